"""How cassettes/spapi/*.yaml were built (`python -m tests.spapi_cassettes` from the repo root).

No SP-API account is reachable from this project's machines, so the cassettes are written in
vcrpy's format with bodies shaped as Amazon's public API models (Login with Amazon token
endpoint; listingsRestrictions_2021-08-01). With real credentials, re-record instead:
`pytest tests/test_restrictions.py --record-mode=once` after deleting a cassette (the test
module's vcr_config redacts the secrets).
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

TOKEN = ("POST", "https://api.amazon.com/auth/o2/token")
BASE = "https://sellingpartnerapi-na.amazon.com/listings/2021-08-01/restrictions"
SELLER = "A2TESTSELLER0"

def req(method, uri, body=None):
    return {"body": body, "headers": {"Accept": ["*/*"], "User-Agent": ["python-requests/2.34.2"]},
            "method": method, "uri": uri}

def resp(code, message, body, extra=None):
    headers = {"Content-Type": ["application/json"], "x-amzn-RequestId": ["6875f61f-6aa1-4a8c-9f0e-1b2ea1f6b2c4"]}
    headers.update(extra or {})
    return {"body": {"string": json.dumps(body)}, "headers": headers, "status": {"code": code, "message": message}}

def token_ok():
    return {"request": req(*TOKEN, "grant_type=refresh_token&refresh_token=REDACTED&client_id=REDACTED&client_secret=REDACTED"),
            "response": resp(200, "OK", {"access_token": "Atza|REDACTED-ACCESS-TOKEN", "refresh_token": "Atzr|REDACTED",
                                         "token_type": "bearer", "expires_in": 3600})}

def restr(asin, cond, code, message, body, extra=None):
    uri = f"{BASE}?asin={asin}&sellerId={SELLER}&marketplaceIds=ATVPDKIKX0DER" + (f"&conditionType={cond}" if cond else "")
    return {"request": req("GET", uri), "response": resp(code, message, body, extra)}

def restricted(asin, cond):
    return {"restrictions": [{"marketplaceId": "ATVPDKIKX0DER", "conditionType": cond, "reasons": [{
        "message": "You cannot list the product in this condition.", "reasonCode": "APPROVAL_REQUIRED",
        "links": [{"resource": f"https://sellercentral.amazon.com/hz/approvalrequest/restrictions/approve?asin={asin}&itemcondition={cond}",
                   "verb": "GET", "title": "Request Approval via Seller Central.", "type": "text/html"}]}]}]}

QUOTA = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.", "details": ""}]}
DENIED = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": ""}]}

def main() -> None:
    cassettes = {
        "check.yaml": [token_ok(),
                       restr("0134685997", "used_very_good", 200, "OK", restricted("0134685997", "used_very_good")),
                       restr("0262033844", "used_good", 200, "OK", {"restrictions": []})],
        "quota_429.yaml": [token_ok(),
                           restr("0262033844", "used_good", 429, "Too Many Requests", QUOTA, {"x-amzn-RateLimit-Limit": ["5.0"]}),
                           restr("0262033844", "used_good", 429, "Too Many Requests", QUOTA, {"x-amzn-RateLimit-Limit": ["5.0"]}),
                           restr("0262033844", "used_good", 200, "OK", {"restrictions": []})],
        "denied_403.yaml": [token_ok(),
                            restr("0134685997", "used_very_good", 403, "Forbidden", DENIED)],
        "bad_grant.yaml": [{"request": req(*TOKEN, "grant_type=refresh_token&refresh_token=REDACTED&client_id=REDACTED&client_secret=REDACTED"),
                            "response": resp(400, "Bad Request", {"error_description": "The request has an invalid grant parameter : refresh_token", "error": "invalid_grant"})}],
    }
    out = Path("cassettes/spapi")
    for name, interactions in cassettes.items():
        (out / name).write_text("# Hand-built from Amazon's public API models (Login with Amazon token endpoint,\n"
                                "# listingsRestrictions_2021-08-01): no SP-API account is reachable from here.\n"
                                + yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False, width=120))
        print(name)


if __name__ == "__main__":
    main()
