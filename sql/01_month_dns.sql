-- Purpose: the per-month answers the month-bound rules use, computed once for all devices of a
-- month (the `dns-other` rule looks across devices):
--   dns_month_latest_v  per device, month and address: the latest answer (ties: query, cname);
--                       the `dns-month` rule;
--   dns_other_top2_v    per month and address: the two best devices' latest answers (ties:
--                       device, query, cname); the `dns-other` rule needs only these, since one
--                       of them is not the flow's own device.
-- Inputs: dns_addresses (00, over every answer of the month).
-- Outputs: views dns_month_latest_v, dns_other_top2_v (materialised as tables dns_month_latest,
--          dns_other_top2 for the device-month steps).

-- (An ordered aggregate rather than a window: it keeps one row per device and address instead
-- of sorting every answer of the month, so the month step's memory does not grow with the
-- number of devices.)
CREATE VIEW dns_month_latest_v AS
SELECT device, year, month, ip,
       max(ts) AS ts,
       first_value(query ORDER BY ts DESC, query, cname) AS query,
       first_value(cname ORDER BY ts DESC, query, cname) AS cname
FROM dns_addresses
GROUP BY device, year, month, ip;

CREATE VIEW dns_other_top2_v AS
SELECT device, year, month, ip, query, cname, rank_in_month FROM (
  SELECT device, year, month, ip, query, cname,
         row_number() OVER (PARTITION BY year, month, ip ORDER BY ts DESC, device, query, cname) AS rank_in_month
  FROM dns_month_latest_v
) WHERE rank_in_month <= 2;
