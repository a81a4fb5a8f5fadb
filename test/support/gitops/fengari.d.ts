// The part of fengari (Lua in JavaScript, https://github.com/fengari-lua/fengari) that
// argocd-health.ts uses; the package ships no types.
declare module 'fengari' {
  type LuaState = { readonly __luaState: unique symbol };
  type LuaString = Uint8Array;
  type CFunction = (L: LuaState) => number;
  const fengari: {
    to_luastring(s: string): LuaString;
    lua: {
      LUA_OK: number;
      LUA_TTABLE: number;
      lua_createtable(L: LuaState, narr: number, nrec: number): void;
      lua_setfield(L: LuaState, index: number, key: LuaString): void;
      lua_rawseti(L: LuaState, index: number, n: number): void;
      lua_pushinteger(L: LuaState, n: number): void;
      lua_pushnumber(L: LuaState, n: number): void;
      lua_pushstring(L: LuaState, s: LuaString): void;
      lua_pushboolean(L: LuaState, b: boolean): void;
      lua_pushnil(L: LuaState): void;
      lua_setglobal(L: LuaState, name: LuaString): void;
      lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
      lua_getfield(L: LuaState, index: number, key: LuaString): number;
      lua_type(L: LuaState, index: number): number;
      lua_tojsstring(L: LuaState, index: number): string | null;
      lua_pop(L: LuaState, n: number): void;
      lua_settop(L: LuaState, index: number): void;
    };
    lauxlib: {
      luaL_newstate(): LuaState;
      luaL_loadstring(L: LuaState, s: LuaString): number;
      luaL_requiref(L: LuaState, name: LuaString, open: CFunction, global: number): void;
    };
    lualib: {
      luaopen_base: CFunction;
      luaopen_table: CFunction;
      luaopen_string: CFunction;
      luaopen_math: CFunction;
    };
  };
  export default fengari;
}
