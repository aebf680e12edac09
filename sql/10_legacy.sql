-- Purpose: the per device-month facts the legacy layout (analysis_longitudinal/) is made of.
--   legacy_unique     every name seen in DNS responses or TLS server names that month (PTR
--                     names under .arpa, .local names, IP literals and the root excluded);
--   legacy_contacted  names that the device's Internet flows were attributed to;
--   legacy_ips        remote Internet IPs with their attributed domain and country;
--   legacy_categorized contacted domains with split, category, organisation, query types;
--   legacy_platforms  detected IoT platforms with evidence.
-- Inputs: dns, names (raw); flow_domains, ips, destinations, platforms (analysis).
-- Outputs: the five views above; export-legacy and the drop-in commands read them.

CREATE VIEW legacy_unique AS
SELECT DISTINCT device, year, month, host AS domain FROM (
  SELECT device, year, month, query AS host FROM dns WHERE query IS NOT NULL
  UNION ALL
  SELECT device, year, month, name AS host FROM names WHERE name IS NOT NULL
)
WHERE host <> '.' AND host NOT LIKE '%.arpa' AND host NOT LIKE '%.local' AND host <> 'local'
  AND ip_scope(host) IS NULL;

CREATE VIEW legacy_contacted AS
SELECT DISTINCT device, year, month, domain
FROM flow_domains
WHERE remote_scope = 'internet' AND domain IS NOT NULL;

CREATE VIEW legacy_ips AS
SELECT device, year, month, ip, domain, country_iso, country_name
FROM ips;

CREATE VIEW legacy_categorized AS
SELECT device, year, month, domain, registrable_domain, sld, tld, category, organization, query_types
FROM destinations
WHERE domain IS NOT NULL;

CREATE VIEW legacy_platforms AS
SELECT device, year, month, platform, evidence, confidence, contacted_hostnames, flows
FROM platforms;
