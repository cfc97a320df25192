#Requires -Modules ExchangeOnlineManagement, Microsoft.Graph.Authentication, Microsoft.Graph.Applications
# galsync: restrict the app that writes contacts for tenant {{TENANT_NAME_TEXT}}
# ({{TENANT_ID_TEXT}}) to the mailboxes of one group, with RBAC for Applications
# in Exchange Online. Written by `galsync tenant provision --target-group`; run
# it once the apps exist (after galsync-entra.ps1, or after the automatic
# `galsync tenant provision`), as an Exchange administrator who may also
# manage app role assignments in Microsoft Entra ID.
#
#   1. finds the write app {{WRITE_APP_TEXT}} (by its uniqueName) and its service principal;
#   2. creates Exchange Online's pointer to that service principal (New-ServicePrincipal);
#   3. creates the management scope "galsync targets": the members of the
#      target group {{TARGET_GROUP_TEXT}};
#   4. assigns the role "Application Contacts.ReadWrite" to the app over that scope;
#   5. checks the grant with Test-ServicePrincipalAuthorization;
#   6. removes the app's tenant-wide Microsoft Graph permission Contacts.ReadWrite.
# Running it again repairs what is missing and duplicates nothing.
#
# Why step 6: grants of RBAC for Applications add to the permissions consented
# in Microsoft Entra ID, they do not narrow them. While the app holds the
# tenant-wide Contacts.ReadWrite, it may still write contacts in every mailbox,
# whatever the scope says. Only the scoped Exchange role must remain.
# Run galsync-entra.ps1 again and it grants Contacts.ReadWrite again: run this
# script after it each time.
#
# Changes to RBAC for Applications can take 30 minutes to 2 hours to reach
# every server (the cache): galsync's writes may be refused, or still allowed
# outside the group, until then.
#
# Microsoft's documentation:
#   https://learn.microsoft.com/Exchange/permissions-exo/application-rbac
#   https://learn.microsoft.com/powershell/module/exchange/new-serviceprincipal
#   https://learn.microsoft.com/powershell/module/exchange/new-managementscope
#   https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment
#   https://learn.microsoft.com/powershell/module/exchange/test-serviceprincipalauthorization
#   https://learn.microsoft.com/powershell/module/microsoft.graph.applications/remove-mgserviceprincipalapproleassignment
param(
    # A mailbox of the target group, to check it is in scope (optional).
    [string]$ProbeMailbox = ''
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$TenantId = {{TENANT_ID}}
$WriteAppName = {{WRITE_APP}}
# The key galsync-entra.ps1 and `galsync tenant provision` give the write app.
$WriteAppUniqueName = {{WRITE_APP_UNIQUE_NAME}}
# The group whose members' mailboxes galsync writes to: object id or name.
$TargetGroup = {{TARGET_GROUP}}
$ScopeName = 'galsync targets'
$AssignmentName = 'galsync contacts'
$RoleName = 'Application Contacts.ReadWrite'
$GraphAppId = '00000003-0000-0000-c000-000000000000'

# Step 1: the write app as galsync-entra.ps1 made it. Reading apps and removing
# one app role assignment is all this script does in Microsoft Entra ID.
Connect-MgGraph -TenantId $TenantId -Scopes 'Application.Read.All', 'AppRoleAssignment.ReadWrite.All' -NoWelcome
# https://learn.microsoft.com/graph/api/application-list ($filter on uniqueName)
$Application = @(Get-MgApplication -Filter "uniqueName eq '$WriteAppUniqueName'")
if ($Application.Count -ne 1) {
    throw "expected one app with uniqueName $WriteAppUniqueName ($WriteAppName), found $($Application.Count): run galsync-entra.ps1 (or galsync tenant provision) first"
}
$WriteAppId = $Application[0].AppId
$ServicePrincipal = @(Get-MgServicePrincipal -Filter "appId eq '$WriteAppId'")
if ($ServicePrincipal.Count -ne 1) {
    throw "app $WriteAppName ($WriteAppId) has no service principal: run galsync-entra.ps1 (or galsync tenant provision) first"
}
$ServicePrincipal = $ServicePrincipal[0]
Write-Host "write app $WriteAppId, service principal $($ServicePrincipal.Id)"

Connect-ExchangeOnline -ShowBanner:$false

# Step 2: Exchange Online's pointer to the Entra service principal.
$ExchangePrincipal = Get-ServicePrincipal -Identity $WriteAppId -ErrorAction SilentlyContinue
if ($null -eq $ExchangePrincipal) {
    $ExchangePrincipal = New-ServicePrincipal -AppId $WriteAppId -ObjectId $ServicePrincipal.Id -DisplayName $WriteAppName
    Write-Host "created the Exchange service principal for $WriteAppName"
}

# Step 3: the scope. MemberOfGroup compares with the group's distinguished
# name, so it is looked up here; quotes in it are doubled for the filter.
$GroupDn = (Get-Group -Identity $TargetGroup).DistinguishedName
$QuotedGroupDn = $GroupDn.Replace("'", "''")
$Filter = "MemberOfGroup -eq '$QuotedGroupDn'"
$Scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue
if ($null -eq $Scope) {
    New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $Filter | Out-Null
    Write-Host "created management scope '$ScopeName': $Filter"
}
elseif ($Scope.RecipientFilter -ne $Filter) {
    Set-ManagementScope -Identity $ScopeName -RecipientRestrictionFilter $Filter
    Write-Host "set management scope '$ScopeName' to $Filter"
}

# Step 4: the role over that scope, and only there.
$Assignment = Get-ManagementRoleAssignment -Identity $AssignmentName -ErrorAction SilentlyContinue
if ($null -eq $Assignment) {
    New-ManagementRoleAssignment -Name $AssignmentName -App $WriteAppId -Role $RoleName -CustomResourceScope $ScopeName | Out-Null
    Write-Host "assigned '$RoleName' to $WriteAppName over '$ScopeName'"
}

# Step 5: what Exchange now grants the app.
if ($ProbeMailbox -ne '') {
    Test-ServicePrincipalAuthorization -Identity $WriteAppId -Resource $ProbeMailbox | Format-Table | Out-String | Write-Host
}
else {
    Test-ServicePrincipalAuthorization -Identity $WriteAppId | Format-Table | Out-String | Write-Host
}

# Step 6: remove the tenant-wide grant the scoped role replaces (see "Why step 6").
$GraphServicePrincipal = Get-MgServicePrincipal -Filter "appId eq '$GraphAppId'"
$ContactsRole = $GraphServicePrincipal.AppRoles | Where-Object { $_.Value -eq 'Contacts.ReadWrite' -and $_.AllowedMemberTypes -contains 'Application' }
$TenantWide = @(Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipal.Id -All | Where-Object { $_.AppRoleId -eq $ContactsRole.Id -and $_.ResourceId -eq $GraphServicePrincipal.Id })
foreach ($Grant in $TenantWide) {
    Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipal.Id -AppRoleAssignmentId $Grant.Id
    Write-Host "removed the tenant-wide Microsoft Graph permission Contacts.ReadWrite from $WriteAppName"
}
Write-Host "done: $WriteAppName writes contacts only in mailboxes of $TargetGroup."
Write-Host "Next: galsync test-connection --tenant-id $TenantId"
# Tokens of the write app no longer carry Contacts.ReadWrite in their roles:
# Exchange grants it per mailbox. Test Connection's permissions:contacts check
# does not know RBAC for Applications yet and reports it missing.
Write-Host 'Its permissions:contacts check reports Contacts.ReadWrite missing: expected now, Exchange grants it per mailbox.'
