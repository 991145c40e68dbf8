// A Stack user's steps with Microsoft's JavaScript SDK, as its documentation sets it up: HTTPS_PROXY and
// NODE_EXTRA_CA_CERTS from the environment, the endpoints from an emulator's info file (argv[2]), the token
// audience from the Stack's metadata (argv[3]). Prints one line per step; exits non-zero at the first failure.
import { readFileSync } from "node:fs";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { ResourceManagementClient } from "@azure/arm-resources-profile-2020-09-01-hybrid";
import { KeyVaultManagementClient } from "@azure/arm-keyvault-profile-2020-09-01-hybrid";
import { AuthorizationManagementClient } from "@azure/arm-authorization-profile-2020-09-01-hybrid";
import msRest from "@azure/ms-rest-js";

const info = JSON.parse(readFileSync(process.argv[2], "utf8"));
const audience = process.argv[3];
const adfs = info.identity_system === "adfs";
const login = info.identity_endpoint.replace(/\/$/, "");
const credential = new ClientSecretCredential(adfs ? "adfs" : info.tenant_id, info.client_id, info.client_secret,
  { authorityHost: adfs ? login.replace(/\/adfs$/, "") : login, disableInstanceDiscovery: true });
const arm = info.arm_endpoint.replace(/\/$/, "");
const scopes = [audience + "/.default"];
const options = { endpoint: arm, $host: arm, credentialScopes: scopes };
// The Key Vault profile package is built on ms-rest-js, which asks a plain TokenCredential for global Azure's scope.
const legacy = new msRest.AzureIdentityCredentialAdapter(credential, scopes[0]);
const sub = `/subscriptions/${info.subscription_id}`;
const step = (name, value) => console.log(`${name}: ${value}`);

const resources = new ResourceManagementClient(credential, info.subscription_id, options);
await resources.resourceGroups.createOrUpdate("jsrg", { location: info.location });
await resources.providers.register("Microsoft.KeyVault");
await new Promise((resolve) => setTimeout(resolve, 1500));
step("group", "jsrg");

const oid = JSON.parse(Buffer.from((await credential.getToken(scopes[0])).token.split(".")[1], "base64url")).oid;
const vaults = new KeyVaultManagementClient(legacy, info.subscription_id, { baseUri: arm });
const vault = await vaults.vaults.createOrUpdate("jsrg", "jskv1", { location: info.location, properties: {
  tenantId: info.tenant_id, sku: { family: "A", name: "standard" },
  accessPolicies: [{ tenantId: info.tenant_id, objectId: oid, permissions: { secrets: ["get", "set", "list", "delete"] } }] } });
step("vaultUri", vault.properties.vaultUri);

// The data plane with the SDK's own challenge verification (the vault's host ends in the challenge's resource).
const secrets = new SecretClient(vault.properties.vaultUri, credential, { serviceVersion: "2016-10-01" });
await secrets.setSecret("s1", "v1");
step("secret get", (await secrets.getSecret("s1")).value === "v1" ? "ok" : "wrong");
const names = [];
for await (const properties of secrets.listPropertiesOfSecrets()) names.push(properties.name);
step("secret list", names.join(","));

const authorization = new AuthorizationManagementClient(credential, info.subscription_id, options);
const roles = [];
for await (const definition of authorization.roleDefinitions.list(sub)) roles.push(definition.roleName);
step("role definitions", roles.join(","));
const assigned = [];
for await (const a of authorization.roleAssignments.listForScope(sub)) assigned.push(a.properties.roleDefinitionId.split("/").pop());
step("role assignments", assigned.join(","));
const reader = (await authorization.roleDefinitions.get(sub, "acdd72a7-3385-48ef-bd42-f606fba81ae7")).id;
const made = await authorization.roleAssignments.create(`${sub}/resourceGroups/jsrg`, "3f2e1d0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f",
  { properties: { roleDefinitionId: reader, principalId: "11111111-2222-3333-4444-555555555555" } });
await authorization.roleAssignments.delete(`${sub}/resourceGroups/jsrg`, made.name);
step("role assignment", "created and deleted");
const permissions = [];
for await (const p of authorization.permissions.listForResourceGroup("jsrg")) permissions.push(p.actions.join("|"));
step("permissions", permissions.join(";"));

const armSecret = await vaults.secrets.createOrUpdate("jsrg", "jskv1", "s2", { properties: { value: "not-shown" } });
step("arm secret", `${armSecret.properties.secretUri} ${"value" in armSecret.properties ? "VALUE SHOWN" : "no value"}`);
await resources.resourceGroups.beginDeleteAndWait("jsrg", { updateIntervalInMs: 10 });
step("done", "ok");
