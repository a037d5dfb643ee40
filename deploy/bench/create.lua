-- wrk script: create one ~500-byte article per request (the tenant comes from a -H Host header).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"A benchmark article","status":"published","views":42,"body":"'
  .. string.rep("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 7) .. '"}'
