"""Access keys and request authentication for Tailor's API.

Tailor issues AWS-style access keys (`keys.KeyStore`, stored in `<data_dir>/keys`) and checks
every API request's AWS Signature Version 4 (`sigv4.verify`), so apps keep using boto3 or the
AWS CLI unchanged: only `endpoint_url` and the credentials point at Tailor. A key has a role
(`admin`, `runtime`, `events`) that limits which of Personalize's three APIs it may call
(`sigv4.authorize`); `middleware.SigV4Middleware` does both for an ASGI app.
"""
