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

-- The request line and fixed header fields, made once (request_head.lua).
local request_head = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "request_head.lua")

function init(args)
  counter = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2025-11-25",
    ["Authorization"] = "Bearer " .. os.getenv("MCPAUTH_BENCH_TOKEN"),
    ["Mcp-Session-Id"] = os.getenv("MCPAUTH_BENCH_SESSION"),
  }
  head = request_head(headers)
  body_start = '{"jsonrpc":"2.0","id":"'
  body_end = '","method":"tools/call","params":{"name":"' .. tool .. '","arguments":' .. arguments .. '}}'
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
