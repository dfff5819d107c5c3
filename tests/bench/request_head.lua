-- For the wrk scripts beside it: the request line and the fixed header
-- fields, made once in init(), so that per request only the body and its
-- Content-Length change and the load generator's own work (it shares the
-- machine with the server) stays small. The text ends where the length
-- goes. Loaded with dofile(); returns the function.
return function(headers)
  local lines = {"POST " .. wrk.path .. " HTTP/1.1", "Host: " .. wrk.headers["Host"]}
  for name, value in pairs(headers) do
    lines[#lines + 1] = name .. ": " .. value
  end
  return table.concat(lines, "\r\n") .. "\r\nContent-Length: "
end
