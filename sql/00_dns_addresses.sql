-- Purpose: the address answers (A/AAAA, and HTTPS/SVCB address hints) with the name asked for,
-- and the owner name of the record when a CNAME chain led there. Every attribution rule starts
-- from these.
-- Inputs: dns_window (the DNS rows this step may use: for a month's shared tables, every answer
--         of that month; for one device-month, that device's answers inside the month's
--         look-back window, which may reach into the previous month).
-- Outputs: view dns_addresses.

CREATE VIEW dns_addresses AS
SELECT device, year, month, ts, query, answer AS ip,
       CASE WHEN rr_name <> query THEN rr_name END AS cname
FROM dns_window
WHERE section = 'answer' AND rr_type IN ('A', 'AAAA', 'HTTPS', 'SVCB')
  AND query IS NOT NULL AND answer IS NOT NULL;
