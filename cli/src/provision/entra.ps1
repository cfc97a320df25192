#Requires -Modules Microsoft.Graph.Authentication, Microsoft.Graph.Applications
# galsync: app registration(s) for tenant {{TENANT_NAME_TEXT}} ({{TENANT_ID_TEXT}}).
# Written by `galsync tenant provision --manual`; run it with the certificate
# galsync.cer beside it, as an administrator who may create apps and grant
# admin consent (Privileged Role Administrator, or Global Administrator).
#
# It does by hand what the portal path of docs/getting-started.md does:
#   1. finds each galsync app by its uniqueName, or creates it, and sets the
#      Microsoft Graph application permissions it needs (nothing more);
#   2. uploads the public certificate of galsync's auth-broker (thumbprint
#      {{THUMBPRINT_TEXT}}) as the app's key credential and checks it arrived;
#   3. creates the app's service principal in this tenant;
#   4. grants admin consent: one app role assignment on Microsoft Graph's
#      service principal for each permission;
#   5. prints the Application (client) ID(s) and the galsync command to run next.
# Running it again repairs what is missing and duplicates nothing.
#
# Microsoft's documentation of each step:
#   Connect-MgGraph:  https://learn.microsoft.com/powershell/microsoftgraph/authentication-commands
#   keyCredentials:   https://learn.microsoft.com/graph/api/application-update
#                     (addKey needs proof of possession of an existing key, so it
#                     cannot add the first one: https://learn.microsoft.com/graph/api/application-addkey)
#   app role grants:  https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments
#                     https://learn.microsoft.com/powershell/module/microsoft.graph.applications/new-mgserviceprincipalapproleassignment

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$TenantId = {{TENANT_ID}}
$TenantName = {{TENANT_NAME}}
$CertificateFile = Join-Path $PSScriptRoot 'galsync.cer'
$ExpectedThumbprint = {{THUMBPRINT}}
# Microsoft Graph's own appId, the same in every tenant.
$GraphAppId = '00000003-0000-0000-c000-000000000000'
# The apps and the permissions (by value) each needs, from galsync's own table
# (services/auth-broker/src/policy.rs).
$Apps = @(
{{APPS}}
)
# Client ids the galsync auth-broker has registered for this tenant now.
$RegisteredClientIds = @({{REGISTERED_CLIENT_IDS}})

# Step 0: the certificate beside this script must be the one galsync holds.
$Certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($CertificateFile)
if ($Certificate.Thumbprint -ne $ExpectedThumbprint) {
    throw "galsync.cer has thumbprint $($Certificate.Thumbprint), expected ${ExpectedThumbprint}: write it again with galsync tenant provision --manual"
}
$CertificateBytes = $Certificate.GetRawCertData()

# Least privilege for the person running this: create and update apps, and
# grant app role assignments. Nothing else.
Connect-MgGraph -TenantId $TenantId -Scopes 'Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All' -NoWelcome

# Permissions are looked up by value on Microsoft Graph's service principal,
# never by a GUID written here.
$GraphServicePrincipal = Get-MgServicePrincipal -Filter "appId eq '$GraphAppId'"
if ($null -eq $GraphServicePrincipal) {
    throw "Microsoft Graph has no service principal in tenant $TenantId"
}

function Get-GraphAppRole {
    param([string]$Value)
    $Role = $GraphServicePrincipal.AppRoles | Where-Object { $_.Value -eq $Value -and $_.AllowedMemberTypes -contains 'Application' }
    if ($null -eq $Role) {
        throw "Microsoft Graph offers no application permission named $Value"
    }
    return $Role
}

function Get-ThumbprintOf {
    param([byte[]]$CustomKeyIdentifier)
    if ($null -eq $CustomKeyIdentifier) {
        return ''
    }
    return [System.BitConverter]::ToString($CustomKeyIdentifier).Replace('-', '')
}

$Results = @()
foreach ($Wanted in $Apps) {
    $DisplayName = $Wanted.DisplayName
    Write-Host "== $DisplayName ($($Wanted.Purpose))"

    # Step 1: the app by its uniqueName, the one `galsync tenant provision`
    # uses too, so either path finds the app the other made: created when
    # missing, else updated, with exactly the permissions of its purpose
    # (requiredResourceAccess, type Role).
    # https://learn.microsoft.com/graph/api/application-upsert
    $ResourceAccess = @()
    foreach ($Value in $Wanted.Permissions) {
        $Role = Get-GraphAppRole -Value $Value
        $ResourceAccess += @{ id = $Role.Id; type = 'Role' }
    }
    $UniqueName = $Wanted.UniqueName
    $Body = @{
        displayName            = $DisplayName
        signInAudience         = 'AzureADMyOrg'
        requiredResourceAccess = @(@{ resourceAppId = $GraphAppId; resourceAccess = $ResourceAccess })
    }
    $Existing = @(Get-MgApplication -Filter "uniqueName eq '$UniqueName'")
    Invoke-MgGraphRequest -Method PATCH -Uri "v1.0/applications(uniqueName='$UniqueName')" -Headers @{ Prefer = 'create-if-missing' } -Body $Body | Out-Null
    $App = Get-MgApplication -Filter "uniqueName eq '$UniqueName'"
    if ($Existing.Count -eq 0) {
        Write-Host "   created app $($App.AppId)"
    }
    else {
        Write-Host "   found app $($App.AppId): set its permissions"
    }

    # Step 2: the certificate as the app's key credential (public part only).
    # Updating keyCredentials replaces the whole list, and Graph never returns
    # the key bytes of the others, so the app keeps only galsync's certificate.
    $App = Get-MgApplication -ApplicationId $App.Id
    $Present = @($App.KeyCredentials | Where-Object { (Get-ThumbprintOf -CustomKeyIdentifier $_.CustomKeyIdentifier) -eq $ExpectedThumbprint })
    if ($Present.Count -eq 0) {
        foreach ($Other in @($App.KeyCredentials)) {
            Write-Warning "replacing certificate $(Get-ThumbprintOf -CustomKeyIdentifier $Other.CustomKeyIdentifier) on $DisplayName"
        }
        $KeyCredential = @{ Type = 'AsymmetricX509Cert'; Usage = 'Verify'; Key = $CertificateBytes; DisplayName = 'galsync auth-broker' }
        Update-MgApplication -ApplicationId $App.Id -KeyCredentials @($KeyCredential)
        Write-Host "   uploaded certificate $ExpectedThumbprint"
    }
    $App = Get-MgApplication -ApplicationId $App.Id
    $Uploaded = @($App.KeyCredentials | Where-Object { (Get-ThumbprintOf -CustomKeyIdentifier $_.CustomKeyIdentifier) -eq $ExpectedThumbprint })
    if ($Uploaded.Count -eq 0) {
        throw "the certificate $ExpectedThumbprint is not on $DisplayName after the upload"
    }

    # Step 3: the service principal, the app's identity in this tenant.
    $ServicePrincipal = Get-MgServicePrincipal -Filter "appId eq '$($App.AppId)'"
    if ($null -eq $ServicePrincipal) {
        $ServicePrincipal = New-MgServicePrincipal -AppId $App.AppId
        Write-Host "   created service principal $($ServicePrincipal.Id)"
    }

    # Step 4: admin consent, as app role assignments on Microsoft Graph.
    $Granted = @(Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipal.Id -All)
    foreach ($Value in $Wanted.Permissions) {
        $Role = Get-GraphAppRole -Value $Value
        $Existing = @($Granted | Where-Object { $_.AppRoleId -eq $Role.Id -and $_.ResourceId -eq $GraphServicePrincipal.Id })
        if ($Existing.Count -eq 0) {
            New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipal.Id -PrincipalId $ServicePrincipal.Id -ResourceId $GraphServicePrincipal.Id -AppRoleId $Role.Id | Out-Null
            Write-Host "   granted $Value"
        }
        else {
            Write-Host "   $Value already granted"
        }
    }
    $Results += [pscustomobject]@{ Purpose = $Wanted.Purpose; DisplayName = $DisplayName; ClientId = $App.AppId }
}

# Step 5: what galsync needs to know.
Write-Host ''
$Results | Format-Table -AutoSize | Out-String | Write-Host
$ClientIds = @($Results | ForEach-Object { $_.ClientId })
$Unknown = @($ClientIds | Where-Object { $RegisteredClientIds -notcontains $_ })
if ($Unknown.Count -eq 0) {
    Write-Host "galsync already knows these apps. Next: galsync test-connection --tenant-id $TenantId"
}
else {
    if ($RegisteredClientIds.Count -eq $ClientIds.Count) {
        $Adopt = "galsync tenant adopt --tenant-id $TenantId"
        if ($ClientIds.Count -gt 1) {
            $Adopt = "$Adopt --two-apps"
        }
        # adopt finds these apps by uniqueName, checks them and records
        # their client ids, changing nothing in Entra ID.
        Write-Host "Next: $Adopt"
        Write-Host 'galsync keeps its certificate for the new client id: this script uploaded it already.'
    }
    else {
        # Neither adopt nor tenant update changes how many apps a tenant has.
        $Flags = "--client-id $($ClientIds[0])"
        if ($ClientIds.Count -gt 1) {
            $Flags = "$Flags --write-client-id $($ClientIds[1])"
        }
        Write-Host 'Next, tell galsync the new client id(s):'
        Write-Host "  galsync tenant remove --tenant-id $TenantId"
        Write-Host "  galsync tenant add --tenant-id $TenantId --name '$TenantName' $Flags"
        # tenant remove drops the broker's certificate with the tenant.
        Write-Host "  galsync cert generate --tenant-id $TenantId"
        Write-Host 'then write the scripts again (tenant provision --manual --force) and run this one again to upload the new galsync.cer.'
    }
}
