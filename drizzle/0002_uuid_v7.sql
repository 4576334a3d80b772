-- UUID version 7 from a given time, for rows made in bulk inside SQL (delivery fan-out): time-ordered ids keep
-- the primary-key index append-only. Same layout as src/lib/ids.ts (RFC 9562), random within a millisecond.
CREATE OR REPLACE FUNCTION patchbay_uuid_v7(ts timestamptz) RETURNS uuid AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$ LANGUAGE sql VOLATILE;
