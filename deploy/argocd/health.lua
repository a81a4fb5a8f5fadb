-- Argo CD health of a BTPCertificate (btpcerts.io/v1alpha1), read from the conditions the operator
-- writes. Install it as resource.customizations.health.btpcerts.io_BTPCertificate in argocd-cm
-- (deploy/argocd/kustomization.yaml does that, README "GitOps health"). Without it Argo CD shows
-- every BTPCertificate as Healthy, whatever its conditions say.
--   Healthy      Ready=True for the current generation
--   Progressing  the operator has not observed the current generation yet, Reconciling=True (it
--                waits for something that fixes itself: the source appearing, a retry), no status
--   Degraded     Stalled=True, or Ready=False with a reason only a change of the spec or the
--                source fixes; the message is the condition's
-- Lua 5.1 (gopher-lua, as Argo CD runs it); base and string functions only.

-- The Ready reasons that stall (src/api/conditions.ts, stalls: true; a unit test keeps this list
-- and that catalogue the same). Used when an object carries Ready but no Stalled condition.
local stalling = {
  InvalidCredentials = true, InputTooLarge = true, NotX509Credentials = true,
  InvalidCertificate = true, InvalidKey = true, KeyMismatch = true, BrokenChain = true,
  Expired = true, SecretConflict = true, InvalidSecretTemplate = true, OutputFormatFailed = true,
  InvalidSMCredentials = true, SMCredentialsNotAllowed = true, SMAuthenticationFailed = true,
  ServiceInstanceNotFound = true, InvalidParameters = true, DefaultCredentialsNotAllowed = true,
  BindingNotOwned = true, BindingsNotDeleted = true, InvalidDestinationCredentials = true,
  DestinationAuthenticationFailed = true, NoClientCertificate = true,
  UnsupportedKeystoreFormat = true, KeystorePasswordIncorrect = true, InvalidKeystore = true,
  TLSHandshakeFailed = true,
  ServerCertificateUntrusted = true, InvalidClient = true, WrongEndpoint = true,
  NoTokenEndpoint = true, HostNotAllowed = true,
}

local hs = { status = "Progressing", message = "Waiting for the operator" }

local function find(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

local function describe(c)
  return (c.reason or "") .. ": " .. (c.message or "")
end

local status = obj.status
if status == nil or status.conditions == nil then return hs end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = find(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local reconciling = find(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
  return hs
end

local ready = find(status.conditions, "Ready")
if ready == nil then return hs end
if ready.observedGeneration ~= nil and generation ~= nil and ready.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif ready.status == "False" and stalling[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready)
else
  hs.message = describe(ready)
end
return hs
