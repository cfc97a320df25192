//! Word lists and formatters behind the seed generator: international names
//! (with their ASCII spelling for UPNs), departments inside divisions, offices,
//! and phone numbers in the many formats real directories hold.

use crate::directory::model::MailboxKind;

/// (as displayed, ASCII for the UPN).
const GIVEN_NAMES: &[(&str, &str)] = &[
    ("Adele", "adele"),
    ("Alex", "alex"),
    ("Amelia", "amelia"),
    ("Aiko", "aiko"),
    ("Ana", "ana"),
    ("Björn", "bjorn"),
    ("Chloé", "chloe"),
    ("Diego", "diego"),
    ("Élodie", "elodie"),
    ("Emma", "emma"),
    ("Fatima", "fatima"),
    ("François", "francois"),
    ("Grace", "grace"),
    ("Hannah", "hannah"),
    ("Hiroshi", "hiroshi"),
    ("Ingrid", "ingrid"),
    ("Isabella", "isabella"),
    ("Jakub", "jakub"),
    ("José", "jose"),
    ("Julia", "julia"),
    ("Karim", "karim"),
    ("Lars", "lars"),
    ("Léa", "lea"),
    ("Łukasz", "lukasz"),
    ("Magnus", "magnus"),
    ("María", "maria"),
    ("Mateo", "mateo"),
    ("Mohammed", "mohammed"),
    ("Nadia", "nadia"),
    ("Noah", "noah"),
    ("Olivia", "olivia"),
    ("Oskar", "oskar"),
    ("Priya", "priya"),
    ("Rafael", "rafael"),
    ("Siobhán", "siobhan"),
    ("Søren", "soren"),
    ("Thảo", "thao"),
    ("Tomás", "tomas"),
    ("Yusuf", "yusuf"),
    ("Zoë", "zoe"),
    ("Zoltán", "zoltan"),
    ("Ümit", "umit"),
];

const SURNAMES: &[(&str, &str)] = &[
    ("Müller", "muller"),
    ("Schmidt", "schmidt"),
    ("García", "garcia"),
    ("Ødegaard", "odegaard"),
    ("Nguyễn", "nguyen"),
    ("Kowalski", "kowalski"),
    ("Wiśniewski", "wisniewski"),
    ("O'Brien", "obrien"),
    ("Dubois", "dubois"),
    ("Rossi", "rossi"),
    ("Johansson", "johansson"),
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Tanaka", "tanaka"),
    ("Kim", "kim"),
    ("Patel", "patel"),
    ("Silva", "silva"),
    ("Novák", "novak"),
    ("Horváth", "horvath"),
    ("Yılmaz", "yilmaz"),
    ("Öztürk", "ozturk"),
    ("Jensen", "jensen"),
    ("van der Berg", "vanderberg"),
    ("de la Cruz", "delacruz"),
    ("Fernández", "fernandez"),
    ("Lefèvre", "lefevre"),
    ("Şahin", "sahin"),
    ("Popescu", "popescu"),
    ("Murphy", "murphy"),
    ("Walsh", "walsh"),
];

/// East Asian names are written family name first without a space.
const CJK_SURNAMES: &[(&str, &str)] = &[
    ("李", "li"),
    ("王", "wang"),
    ("张", "zhang"),
    ("陈", "chen"),
];
const CJK_GIVEN_NAMES: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("静", "jing"),
    ("磊", "lei"),
];

pub struct Person {
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub nickname: String,
}

pub fn person(next: &mut dyn FnMut() -> u64) -> Person {
    let draw = next();
    if draw.is_multiple_of(12) {
        let surname = CJK_SURNAMES[(next() % CJK_SURNAMES.len() as u64) as usize];
        let given = CJK_GIVEN_NAMES[(next() % CJK_GIVEN_NAMES.len() as u64) as usize];
        return Person {
            display_name: format!("{}{}", surname.0, given.0),
            given_name: given.0.to_owned(),
            surname: surname.0.to_owned(),
            nickname: format!("{}.{}", given.1, surname.1),
        };
    }
    let given = GIVEN_NAMES[(next() % GIVEN_NAMES.len() as u64) as usize];
    let surname = SURNAMES[(next() % SURNAMES.len() as u64) as usize];
    Person {
        display_name: format!("{} {}", given.0, surname.0),
        given_name: given.0.to_owned(),
        surname: surname.0.to_owned(),
        nickname: format!("{}.{}", given.1, surname.1),
    }
}

pub struct Department {
    pub name: &'static str,
    pub division: &'static str,
    pub titles: &'static [&'static str],
}

pub const DIVISIONS: &[&str] = &["Engineering", "Sales & Marketing", "Operations"];

pub const DEPARTMENTS: &[Department] = &[
    Department {
        name: "Software Development",
        division: "Engineering",
        titles: &[
            "Software Engineer",
            "Senior Software Engineer",
            "Engineering Manager",
            "Architect",
        ],
    },
    Department {
        name: "Quality Assurance",
        division: "Engineering",
        titles: &["Test Engineer", "QA Lead"],
    },
    Department {
        name: "IT Operations",
        division: "Engineering",
        titles: &[
            "Systems Administrator",
            "Site Reliability Engineer",
            "IT Manager",
        ],
    },
    Department {
        name: "Sales",
        division: "Sales & Marketing",
        titles: &[
            "Account Executive",
            "Sales Manager",
            "Inside Sales Representative",
        ],
    },
    Department {
        name: "Marketing",
        division: "Sales & Marketing",
        titles: &[
            "Marketing Specialist",
            "Product Marketing Manager",
            "Content Writer",
        ],
    },
    Department {
        name: "Customer Success",
        division: "Sales & Marketing",
        titles: &["Customer Success Manager", "Support Engineer"],
    },
    Department {
        name: "Finance",
        division: "Operations",
        titles: &["Accountant", "Financial Analyst", "Controller"],
    },
    Department {
        name: "Human Resources",
        division: "Operations",
        titles: &["HR Business Partner", "Recruiter"],
    },
    Department {
        name: "Legal",
        division: "Operations",
        titles: &["Counsel", "Paralegal"],
    },
];

pub const COMPANIES: &[&str] = &[
    "Contoso Ltd",
    "Contoso GmbH",
    "Contoso SAS",
    "Fabrikam Inc.",
];

pub const GUEST_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "northwindtraders.com",
    "adatum.com",
    "gmail.com",
];

pub struct Office {
    pub location: &'static str,
    pub street: &'static str,
    pub city: &'static str,
    pub state: Option<&'static str>,
    pub postal_code: &'static str,
    pub country: &'static str,
    pub usage_location: &'static str,
    pub language: &'static str,
    pub region: &'static str,
    /// Phone country code.
    pub dial: &'static str,
}

pub const OFFICES: &[Office] = &[
    Office {
        location: "Seattle 40/2172",
        street: "1 Microsoft Way",
        city: "Redmond",
        state: Some("WA"),
        postal_code: "98052",
        country: "United States",
        usage_location: "US",
        language: "en-US",
        region: "AMER",
        dial: "1",
    },
    Office {
        location: "München Parkstadt 3.14",
        street: "Walter-Gropius-Straße 5",
        city: "München",
        state: Some("Bayern"),
        postal_code: "80807",
        country: "Germany",
        usage_location: "DE",
        language: "de-DE",
        region: "EMEA",
        dial: "49",
    },
    Office {
        location: "London Paddington",
        street: "2 Kingdom Street",
        city: "London",
        state: None,
        postal_code: "W2 6BD",
        country: "United Kingdom",
        usage_location: "GB",
        language: "en-GB",
        region: "EMEA",
        dial: "44",
    },
    Office {
        location: "Paris Issy",
        street: "39 Quai du Président Roosevelt",
        city: "Issy-les-Moulineaux",
        state: None,
        postal_code: "92130",
        country: "France",
        usage_location: "FR",
        language: "fr-FR",
        region: "EMEA",
        dial: "33",
    },
    Office {
        location: "Kraków Fabryczna",
        street: "ul. Fabryczna 20A",
        city: "Kraków",
        state: Some("Małopolskie"),
        postal_code: "31-553",
        country: "Poland",
        usage_location: "PL",
        language: "pl-PL",
        region: "EMEA",
        dial: "48",
    },
    Office {
        location: "Oslo Lysaker",
        street: "Lysaker Torg 45",
        city: "Lysaker",
        state: None,
        postal_code: "1366",
        country: "Norway",
        usage_location: "NO",
        language: "nb-NO",
        region: "EMEA",
        dial: "47",
    },
    Office {
        location: "Tokyo Shinagawa",
        street: "2-16-3 Konan",
        city: "Minato-ku",
        state: Some("Tokyo"),
        postal_code: "108-0075",
        country: "Japan",
        usage_location: "JP",
        language: "ja-JP",
        region: "APAC",
        dial: "81",
    },
    Office {
        location: "São Paulo Vila Olímpia",
        street: "Av. Pres. Juscelino Kubitschek, 1909",
        city: "São Paulo",
        state: Some("SP"),
        postal_code: "04543-907",
        country: "Brazil",
        usage_location: "BR",
        language: "pt-BR",
        region: "AMER",
        dial: "55",
    },
];

fn digits(next: &mut dyn FnMut() -> u64, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'0' + (next() % 10) as u8))
        .collect()
}

/// A business number in one of many real-world spellings (some with stray spaces).
pub fn business_number(next: &mut dyn FnMut() -> u64, office: &Office) -> String {
    match next() % 8 {
        0 => format!("+{} 425 555 {}", office.dial, digits(next, 4)),
        1 => format!("(425) 555-{}", digits(next, 4)),
        2 => format!(
            "00{} 89 {}-{}",
            office.dial,
            digits(next, 5),
            digits(next, 2)
        ),
        3 => format!(
            "+{} (0)89 {} {}",
            office.dial,
            digits(next, 4),
            digits(next, 4)
        ),
        4 => format!(
            " +{} 20 {} {} ",
            office.dial,
            digits(next, 4),
            digits(next, 4)
        ),
        5 => format!("425.555.{}", digits(next, 4)),
        6 => format!("+{}-3-{}-{}", office.dial, digits(next, 4), digits(next, 4)),
        _ => format!(
            "+{} 1 42  68 {} {}",
            office.dial,
            digits(next, 2),
            digits(next, 2)
        ),
    }
}

pub fn business_phones(next: &mut dyn FnMut() -> u64, office: &Office) -> Vec<String> {
    match next() % 20 {
        0 | 1 => Vec::new(),
        2 => vec![business_number(next, office), business_number(next, office)],
        _ => vec![business_number(next, office)],
    }
}

pub fn mobile_phone(next: &mut dyn FnMut() -> u64, office: &Office) -> String {
    match next() % 4 {
        0 => format!("+{} 171 {}", office.dial, digits(next, 7)),
        1 => format!("0171 {}", digits(next, 7)),
        2 => format!("+{} 7700 {}", office.dial, digits(next, 6)),
        _ => format!("+{} (206) 555-{}", office.dial, digits(next, 4)),
    }
}

/// The display name of a shared, room or equipment mailbox.
pub fn resource_name(kind: MailboxKind, index: usize, office: &Office) -> String {
    let city = office.city;
    match kind {
        MailboxKind::Room => format!(
            "Conf Room {city} {} ({} seats)",
            index % 100,
            4 + index % 12
        ),
        MailboxKind::Equipment => format!("Projector {city} {}", index % 100),
        _ => format!("Shared Mailbox {city} {}", index % 1000),
    }
}

/// An ASCII mail nickname for a display name.
pub fn ascii_nickname(display_name: &str) -> String {
    let nickname: String = display_name
        .chars()
        .filter_map(|character| {
            if character.is_ascii_alphanumeric() {
                Some(character.to_ascii_lowercase())
            } else if character == ' ' {
                Some('.')
            } else {
                None
            }
        })
        .collect();
    if nickname.is_empty() {
        "mailbox".to_owned()
    } else {
        nickname
    }
}
