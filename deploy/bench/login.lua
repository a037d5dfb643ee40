-- wrk script: log the acme tenant admin in (argon2id verification + a new session per request).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Host"] = "acme.localhost"
wrk.body = '{"email":"admin@acme.example","password":"bench-acme-password"}'
