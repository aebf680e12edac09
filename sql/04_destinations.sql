-- Purpose: one row per device, month and destination — the attributed domain, or the remote IP
-- when the flow stayed unattributed — with its registrable domain split, CNAME target, party
-- category and the rule that decided it, organisation, IoT platform, DNS query types, AS,
-- countries and traffic both ways.
-- Inputs: flow_domains (materialised from 01), dns.
-- Outputs: view destinations_v (table destinations).

CREATE VIEW dest_flows AS
SELECT device, year, month,
       COALESCE(domain, remote_ip) AS destination,
       domain, cname, remote_ip, first_ts, last_ts,
       packets_out, bytes_out, packets_in, bytes_in,
       as_org(remote_ip) AS ip_as_org, asn(remote_ip) AS ip_asn, country_iso(remote_ip) AS ip_country
FROM flow_domains
WHERE remote_scope = 'internet';

CREATE VIEW dest_qtypes AS
SELECT device, year, month, query,
       string_agg(qtype, ';' ORDER BY qtype) AS query_types
FROM (SELECT DISTINCT device, year, month, query, qtype FROM dns WHERE query IS NOT NULL AND qtype IS NOT NULL)
GROUP BY device, year, month, query;

CREATE VIEW dest_countries AS
SELECT device, year, month, destination, string_agg(ip_country, ';' ORDER BY ip_country) AS countries
FROM (SELECT DISTINCT device, year, month, destination, ip_country FROM dest_flows WHERE ip_country IS NOT NULL)
GROUP BY device, year, month, destination;

CREATE VIEW dest_agg AS
SELECT device, year, month, destination,
       MAX(domain) AS domain,
       MIN(cname) AS cname,
       COUNT(DISTINCT remote_ip) AS ip_count,
       MIN(ip_asn) AS asn,
       MIN(ip_as_org) AS as_org,
       COUNT(*) AS flows,
       SUM(packets_out) AS packets_out, SUM(bytes_out) AS bytes_out,
       SUM(packets_in) AS packets_in, SUM(bytes_in) AS bytes_in,
       MIN(first_ts) AS first_seen, MAX(last_ts) AS last_seen
FROM dest_flows
GROUP BY device, year, month, destination;

CREATE VIEW destinations_v AS
SELECT a.device, a.year, a.month, a.destination, a.domain,
       registrable_domain(a.domain) AS registrable_domain,
       sld(a.domain) AS sld,
       public_suffix(a.domain) AS tld,
       a.cname,
       classify_party(a.device, a.destination, a.cname, a.as_org, a.asn) AS category,
       organization(a.domain, a.as_org) AS organization,
       party_reason(a.device, a.destination, a.cname, a.as_org, a.asn) AS reason,
       iot_platform(a.domain) AS platform,
       q.query_types,
       a.ip_count, a.asn, a.as_org, c.countries,
       a.flows, a.packets_out, a.bytes_out, a.packets_in, a.bytes_in,
       a.first_seen, a.last_seen
FROM dest_agg a
LEFT JOIN dest_qtypes q ON q.device = a.device AND q.year = a.year AND q.month = a.month AND q.query = a.domain
LEFT JOIN dest_countries c ON c.device = a.device AND c.year = a.year AND c.month = a.month AND c.destination = a.destination;
