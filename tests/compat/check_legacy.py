"""Reads every legacy file of an export with the readers the lab's old scripts use
(json.load, pickle.load, csv.reader, pandas.read_csv) and checks shapes and sample values.

usage: check_legacy.py LEGACY_DIR
Prints one line per file kind with the reader that opened it, then 'N passed, 0 failed'.
"""
import csv
import json
import os
import pickle
import sys

import pandas as pd

root = sys.argv[1]
checked = {}
failures = []


def ok(kind, reader):
    checked.setdefault(kind, set()).add(reader)


def expect(cond, msg):
    if not cond:
        failures.append(msg)


for device in sorted(os.listdir(root)):
    ddir = os.path.join(root, device)
    for entry in sorted(os.listdir(ddir)):
        path = os.path.join(ddir, entry)
        if entry.startswith("categorized_domains_") and entry.endswith(".csv"):
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            expect(rows[0] == ["Month-Year", "Domain", "SLD", "TLD", "Category", "Organization", "Query Type"], f"{path}: header {rows[0]}")
            df = pd.read_csv(path, keep_default_na=False)
            expect(list(df.columns) == rows[0], f"{path}: pandas columns")
            expect(set(df["Category"]) <= {"First-party", "Platform-party", "Support-party", "Third-party"}, f"{path}: categories")
            expect(all(o and o != "Unknown" for o in df["Organization"]), f"{path}: organization Unknown would make party.py run WHOIS")
            mon, year = entry[len("categorized_domains_"):-4].split("_")
            expect(all(v == f"{mon}-{year}" for v in df["Month-Year"]), f"{path}: Month-Year")
            with open(path, "rb") as f:
                expect(f.read().count(b"\r\n") == len(rows), f"{path}: rows end in CRLF")
            ok("categorized_domains_<Mon>_<Year>.csv", "csv.reader")
            ok("categorized_domains_<Mon>_<Year>.csv", "pandas.read_csv")
            continue
        if not os.path.isdir(path):
            continue
        for mdir_name in sorted(os.listdir(path)):
            mdir = os.path.join(path, mdir_name)
            dl = os.path.join(mdir, "domain_list")
            for name in ["unique_domains.json", "unique_slds.json", "contacted_domains.json", "contacted_slds.json"]:
                with open(os.path.join(dl, name)) as f:
                    data = json.load(f)
                expect(list(data.keys()) == [device], f"{dl}/{name}: keys {list(data)}")
                expect(data[device] == sorted(data[device]), f"{dl}/{name}: sorted")
                expect(all(isinstance(x, str) for x in data[device]), f"{dl}/{name}: strings")
                ok(name, "json.load")
            for name in ["ip_domain_map.pkl", "ip_sld_map.pkl"]:
                with open(os.path.join(dl, name), "rb") as f:
                    data = pickle.load(f)
                expect(isinstance(data[device], dict), f"{dl}/{name}: device map")
                expect(all(isinstance(k, str) and isinstance(v, str) for k, v in data[device].items()), f"{dl}/{name}: str → str")
                ok(name, "pickle.load")
            with open(os.path.join(dl, "ip_domain_map.pkl"), "rb") as f:
                enriched = pickle.load(f)
            with open(os.path.join(dl, "contacted_domains.json")) as f:
                contacted = json.load(f)[device]
            for d in contacted:
                info = enriched.get(d)
                expect(isinstance(info, dict) and info.get("organization") not in (None, "Unknown"), f"{dl}: enriched entry for {d}: {info}")
            with open(os.path.join(mdir, "ip_list", "ip_domain_map.pkl"), "rb") as f:
                expect(pickle.load(f) == enriched, f"{mdir}: ip_list copy of the enriched map")
            ok("ip_list/ip_domain_map.pkl", "pickle.load")
            with open(os.path.join(mdir, "ip_list", "all_ips.json")) as f:
                ips = json.load(f)[device]
            import ipaddress
            expect(all(not ipaddress.ip_address(i).is_private for i in ips), f"{mdir}: all_ips has local addresses")
            expect(set(enriched[device]) <= set(ips), f"{mdir}: mapped IPs are a subset of all_ips")
            ok("all_ips.json", "json.load")
            with open(os.path.join(mdir, "ip_list", "_untranslated_ip_stats.csv"), newline="") as f:
                rows = list(csv.reader(f))
            expect(rows[0] == ["Device", "Percentage Untranslated", "Untranslated IPs", "Total IPs"], f"{mdir}: stats header")
            expect(rows[1][0] == device and rows[-1][0] == "Total", f"{mdir}: stats rows")
            expect(int(rows[1][3]) == len(ips), f"{mdir}: total IPs")
            expect(int(rows[1][2]) == len(ips) - len(enriched[device]), f"{mdir}: untranslated IPs")
            float(rows[1][1])
            ok("_untranslated_ip_stats.csv", "csv.reader")
            df = pd.read_csv(os.path.join(mdir, "ip_list", "_untranslated_ip_stats.csv"))
            expect(list(df["Device"]) == [device, "Total"], f"{mdir}: stats via pandas")
            ok("_untranslated_ip_stats.csv", "pandas.read_csv")
            with open(os.path.join(mdir, "platform_analysis", "platforms_detected.json")) as f:
                p = json.load(f)
            expect(set(p) == {"primary_platform", "platforms_detected", "platform_endpoints"}, f"{mdir}: platforms keys")
            for d in p["platforms_detected"]:
                expect(set(d) == {"platform", "confidence", "evidence"} and 0 <= d["confidence"] <= 1, f"{mdir}: platform entry {d}")
            ok("platforms_detected.json", "json.load")
            geo = os.path.join(mdir, "geolocation.json")
            if os.path.exists(geo):
                with open(geo) as f:
                    g = json.load(f)
                expect(all(set(v) == {"country_iso_code", "country_name"} for v in g.values()), f"{geo}: entries")
                expect(set(g) <= set(ips), f"{geo}: only IPs of all_ips")
                ok("geolocation.json", "json.load")

for kind in sorted(checked):
    print(f"opened {kind} with {', '.join(sorted(checked[kind]))}")
for f in failures:
    print("FAIL", f)
print(f"{sum(len(v) for v in checked.values())} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
