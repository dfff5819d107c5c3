-- wrk: authenticated MCP tools/call in one MCP session, over keep-alive.
-- The token, session id and tool come from the environment, never from argv:
--   MCPAUTH_BENCH_TOKEN, MCPAUTH_BENCH_SESSION, MCPAUTH_BENCH_TOOL (hello_world).
-- Every request has its own JSON-RPC id (thread number and a counter): ids of
-- requests in flight in one session must be unique (JSON-RPC 2.0 §4, MCP
-- lifecycle), and a bridge to a stdio backend relies on it.
local tool = os.getenv("MCPAUTH_BENCH_TOOL") or "hello_world"
local arguments = tool == "echo" and '{"text":"bench"}' or "{}"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

function init(args)
  counter = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2025-11-25",
    ["Authorization"] = "Bearer " .. os.getenv("MCPAUTH_BENCH_TOKEN"),
    ["Mcp-Session-Id"] = os.getenv("MCPAUTH_BENCH_SESSION"),
  }
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"jsonrpc":"2.0","id":"%d-%d","method":"tools/call","params":{"name":"%s","arguments":%s}}',
    number, counter, tool, arguments)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  elseif not body:find('"result"', 1, true) or body:find('"isError":true', 1, true) then
    io.stderr:write("unexpected answer " .. body:sub(1, 200) .. "\n")
  end
end
