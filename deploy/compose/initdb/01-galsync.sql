-- One role and one database per galsync service. The official postgres image
-- runs this once, when its data volume is empty, with psql as the superuser;
-- psql's \getenv reads each role's password from the container environment
-- (compose.yaml passes them from .env), so no password is written here.
\set ON_ERROR_STOP on

\getenv auth_broker_password GALSYNC_AUTH_BROKER_DB_PASSWORD
\getenv directory_reader_password GALSYNC_DIRECTORY_READER_DB_PASSWORD
\getenv contact_writer_password GALSYNC_CONTACT_WRITER_DB_PASSWORD
\getenv scheduler_password GALSYNC_SCHEDULER_DB_PASSWORD

CREATE ROLE galsync_auth_broker LOGIN PASSWORD :'auth_broker_password';
CREATE ROLE galsync_directory_reader LOGIN PASSWORD :'directory_reader_password';
CREATE ROLE galsync_contact_writer LOGIN PASSWORD :'contact_writer_password';
CREATE ROLE galsync_scheduler LOGIN PASSWORD :'scheduler_password';

-- Each service owns its database (its migrations run on start) and no other
-- role may connect to it.
CREATE DATABASE galsync_auth_broker OWNER galsync_auth_broker;
CREATE DATABASE galsync_directory_reader OWNER galsync_directory_reader;
CREATE DATABASE galsync_contact_writer OWNER galsync_contact_writer;
CREATE DATABASE galsync_scheduler OWNER galsync_scheduler;

REVOKE ALL ON DATABASE galsync_auth_broker FROM PUBLIC;
REVOKE ALL ON DATABASE galsync_directory_reader FROM PUBLIC;
REVOKE ALL ON DATABASE galsync_contact_writer FROM PUBLIC;
REVOKE ALL ON DATABASE galsync_scheduler FROM PUBLIC;
