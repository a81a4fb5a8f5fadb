// Runs deploy/argocd/health.lua the way Argo CD runs a resource health script: a fresh Lua state
// with the base, table, string and math libraries, the resource as the global `obj` (JSON objects
// as tables, arrays as tables from index 1), and the table the script returns read as
// { status, message }. The engine is fengari, a Lua VM in JavaScript (Lua 5.3; the script keeps
// to what Lua 5.1, Argo CD's gopher-lua, has as well).
import { readFileSync } from 'node:fs';
import fengari from 'fengari';

const { lua, lauxlib, lualib, to_luastring } = fengari;
type LuaState = ReturnType<typeof lauxlib.luaL_newstate>;

export const HEALTH_SCRIPT_PATH = new URL('../../../deploy/argocd/health.lua', import.meta.url);

export type ArgoHealth = { readonly status: string; readonly message: string };

function push(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === 'string') lua.lua_pushstring(L, to_luastring(value));
  else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (typeof value === 'number') {
    if (Number.isInteger(value)) lua.lua_pushinteger(L, value);
    else lua.lua_pushnumber(L, value);
  } else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((item, i) => {
      push(L, item);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else if (typeof value === 'object') {
    const entries = Object.entries(value);
    lua.lua_createtable(L, 0, entries.length);
    for (const [key, item] of entries) {
      push(L, item);
      lua.lua_setfield(L, -2, to_luastring(key));
    }
  } else throw new Error(`cannot pass a ${typeof value} to Lua`);
}

function field(L: LuaState, name: string): string {
  lua.lua_getfield(L, -1, to_luastring(name));
  const text = lua.lua_tojsstring(L, -1) ?? '';
  lua.lua_pop(L, 1);
  return text;
}

/** The health Argo CD would show for `resource` (an object as read from the API server). */
export function argoHealth(resource: unknown, script = readFileSync(HEALTH_SCRIPT_PATH, 'utf8')): ArgoHealth {
  const L = lauxlib.luaL_newstate();
  for (const [name, open] of [
    ['_G', lualib.luaopen_base],
    ['table', lualib.luaopen_table],
    ['string', lualib.luaopen_string],
    ['math', lualib.luaopen_math],
  ] as const) {
    lauxlib.luaL_requiref(L, to_luastring(name), open, 1);
    lua.lua_pop(L, 1);
  }
  // Through JSON, as Argo CD hands the script the object it decoded: no undefined, no Dates.
  push(L, JSON.parse(JSON.stringify(resource)));
  lua.lua_setglobal(L, to_luastring('obj'));
  if (
    lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK ||
    lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK
  )
    throw new Error(`health.lua failed: ${lua.lua_tojsstring(L, -1)}`);
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) throw new Error('health.lua did not return a table');
  return { status: field(L, 'status'), message: field(L, 'message') };
}
