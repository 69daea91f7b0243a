-- The Lua side of the model's scripting runtime (loaded as "=[redis lib]").
local dbg = debug
local real = _G
local raw_setmetatable, raw_getmetatable, raw_rawset, raw_error = setmetatable, getmetatable, rawset, error
local readonly = raw_setmetatable({}, {__mode = 'k'})
local READONLY = "Attempt to modify a readonly table"

-- Redis 7's error handler: the error as a table with the script's source and line.
function __redis__err__handler(err)
  -- Redis skips one C frame (redis.call); our protections run as Lua metamethods where
  -- Redis's run in C, so skip those frames as well.
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=[redis lib]') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    -- Errors raised by the model's Rust callbacks read "runtime error: <msg>" followed by
    -- a traceback through mlua; Redis's C functions raise the bare message.
    local text = tostring(err):gsub('^runtime error: ', ''):gsub('\nstack traceback:.*$', '')
    err = {err = 'ERR ' .. text}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

function __redis__run(f, keys, argv)
  return xpcall(function() return f(keys, argv) end, __redis__err__handler)
end

-- A read-only view of `t`: reads go through, writes and metatable changes are errors.
local function protect(t)
  local proxy = {}
  local mt = {__index = t, __newindex = function() raw_error(READONLY, 2) end}
  mt.__metatable = false
  raw_setmetatable(proxy, mt)
  readonly[proxy] = true
  return proxy
end

-- lua-cjson and lua-cmsgpack raise their errors with luaL_error, which names the caller's
-- line: the Rust functions return (false, message) and these wrappers raise it there.
for _, lib in ipairs({'cjson', 'cmsgpack'}) do
  local t = real[lib]
  for _, name in ipairs({'encode', 'decode', 'pack', 'unpack', 'unpack_one', 'unpack_limit'}) do
    local raw = t['raw_' .. name]
    if raw then
      t[name] = function(...)
        local results = {raw(...)}
        if results[1] == false then raw_error(results[2], 2) end
        return unpack(results, 2, table.maxn(results))
      end
      t['raw_' .. name] = nil
    end
  end
end

local overrides = {}
for _, name in ipairs({'redis', 'cjson', 'cmsgpack', 'bit', 'string', 'math', 'table'}) do
  overrides[name] = protect(real[name])
end
overrides.setmetatable = function(t, m)
  if readonly[t] then raw_error(READONLY, 2) end
  return raw_setmetatable(t, m)
end
overrides.rawset = function(t, k, v)
  if readonly[t] then raw_error(READONLY, 2) end
  return raw_rawset(t, k, v)
end

-- Binary chunks are refused, as in Redis (they could break the interpreter); text chunks
-- run in the same read-only environment.
local raw_loadstring, raw_setfenv = loadstring, setfenv
local env
overrides.loadstring = function(code, name)
  if type(code) == 'string' and code:byte(1) == 27 then
    return nil, "binary code not allowed"
  end
  local f, e = raw_loadstring(code, name)
  if f then raw_setfenv(f, env) end
  return f, e
end

-- The environment of user code: globals read through (an undefined one is an error), no
-- global may be written, and its metatable is itself read-only.
env = {}
local env_mt = {
  __index = function(_, name)
    local v = overrides[name]
    if v == nil then v = real[name] end
    if v == nil then
      raw_error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = function() raw_error(READONLY, 2) end,
}
overrides._G = env
env_mt.__metatable = protect(env_mt)
raw_setmetatable(env, env_mt)
readonly[env] = true
__redis__env = env
__redis__protect = protect
