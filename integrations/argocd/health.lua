-- Argo CD health of an App (appoperator.dev/v1alpha1), read from the conditions the operator
-- writes (Ready, Reconciling, Stalled: kstatus's) and status.observedGeneration.
-- Argo CD runs this with the App as the global `obj` and only Lua's base and table libraries
-- and a reduced os (no string, no math), and expects a table {status = ..., message = ...}.
local function condition(conditions, kind)
  for _, entry in ipairs(conditions) do
    if entry.type == kind then
      return entry
    end
  end
  return nil
end

local function described(entry, fallback)
  if entry ~= nil and entry.message ~= nil and entry.message ~= "" then
    return entry.message
  end
  return fallback
end

local status = obj.status
if status == nil or status.conditions == nil then
  return {status = "Progressing", message = "Waiting for app-operator to report the App's status"}
end

-- A status written for an older spec says nothing about the current one.
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  return {status = "Progressing",
          message = "Waiting for app-operator to act on generation " .. generation}
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = described(stalled, "Stalled")}
end

local reconciling = condition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return {status = "Progressing", message = described(reconciling, "Reconciling")}
end

local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  if obj.spec ~= nil and obj.spec.suspend == true then
    return {status = "Suspended", message = described(ready, "Suspended")}
  end
  return {status = "Healthy", message = described(ready, "Ready")}
end

return {status = "Progressing", message = described(ready, "Waiting for the App to be Ready")}
