-- wrk script: presign one 100 KiB PNG upload per request (the tenant comes from a -H Host header).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"filename":"holiday photo.png","content_type":"image/png","size":102400}'
