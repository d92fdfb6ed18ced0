-- wrk script: POST a small JSON job to /jobs (benches/stand-ins.sh uses it).
wrk.method = "POST"
wrk.body = '{"task":"resize","image":42}'
wrk.headers["Content-Type"] = "application/json"
