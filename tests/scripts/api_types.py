"""The web client's types follow the API's OpenAPI description: every object schema that
web/src/api.ts declares as an interface of the same name has the same member names, and a
member the description marks optional or nullable is optional or nullable there too.

    python3 api_types.py OPENAPI.json API.ts    (exit 1 and the differences when they differ)
"""
import json
import re
import sys


def ts_interfaces(text):
    """{name: {member: optional-or-nullable}} of the top-level members of each interface."""
    out = {}
    for m in re.finditer(r"export interface (\w+)(?: extends (\w+))? \{\n(.*?)\n\}", text, re.S):
        members, depth = {}, 0
        for line in m.group(3).split("\n"):
            if depth == 0:
                f = re.match(r"\s*(\w+)(\??):\s*(.*)", line)
                if f:
                    members[f.group(1)] = f.group(2) == "?" or "null" in f.group(3)
            depth += line.count("{") - line.count("}")
        if m.group(2):
            members = {**out.get(m.group(2), {}), **members}
        out[m.group(1)] = members
    return out


def main():
    api = json.load(open(sys.argv[1]))
    ts = ts_interfaces(open(sys.argv[2]).read())
    problems, checked = [], 0
    for name, schema in api["components"]["schemas"].items():
        if name not in ts or "properties" not in schema:
            continue
        checked += 1
        props = schema["properties"]
        required = set(schema.get("required", props))
        for member in sorted(set(props) - set(ts[name])):
            problems.append(f"{name}.{member}: in the API, not in api.ts")
        for member in sorted(set(ts[name]) - set(props)):
            problems.append(f"{name}.{member}: in api.ts, not in the API")
        for member in sorted(set(props) & set(ts[name])):
            loose = member not in required or props[member].get("nullable", False)
            if loose and not ts[name][member]:
                problems.append(f"{name}.{member}: optional or nullable in the API, not in api.ts")
    if checked == 0:
        problems.append("no schema of the API is an interface in api.ts")
    print("\n".join(problems) if problems else f"{checked} schemas agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
