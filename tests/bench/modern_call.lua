-- wrk: authenticated MCP 2026-07-28 tools/call hello_world, stateless: no
-- session, the protocol version and client capabilities in params._meta of
-- every request, and the method and tool name repeated in the Mcp-Method and
-- Mcp-Name headers (MCP 2026-07-28, transports: "Streamable HTTP").
-- The token comes from the environment, never from argv: MCPAUTH_BENCH_TOKEN.
-- Every request has its own JSON-RPC id (thread number and a counter), as in
-- session_call.lua, so that both scripts build their bodies the same way.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

-- The request line and fixed header fields, made once (request_head.lua).
local request_head = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "request_head.lua")

function init(args)
  counter = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2026-07-28",
    ["Mcp-Method"] = "tools/call",
    ["Mcp-Name"] = "hello_world",
    ["Authorization"] = "Bearer " .. os.getenv("MCPAUTH_BENCH_TOKEN"),
  }
  head = request_head(headers)
  body_start = '{"jsonrpc":"2.0","id":"'
  body_end = '","method":"tools/call","params":{"name":"hello_world","arguments":{},'
    .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
    .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'
end

function request()
  counter = counter + 1
  local body = body_start .. number .. "-" .. counter .. body_end
  return head .. #body .. "\r\n\r\n" .. body
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  elseif not body:find('"result"', 1, true) or body:find('"isError":true', 1, true) then
    io.stderr:write("unexpected answer " .. body:sub(1, 200) .. "\n")
  end
end
