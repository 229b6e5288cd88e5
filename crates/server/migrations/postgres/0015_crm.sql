-- CRM data pushed by the merchant's systems (issue 17): every phone number a
-- customer has, in E.164, so an inbound caller's id finds them (the old single
-- `customers.phone` stays, as the first of them), and tickets keyed by their
-- reference so one can be changed or closed alone.

CREATE TABLE customer_phones (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    PRIMARY KEY (customer_id, number)
);
-- An inbound call looks its caller id up here.
CREATE INDEX customer_phones_number ON customer_phones (tenant_id, number);
INSERT INTO customer_phones (tenant_id, customer_id, number)
    SELECT tenant_id, id, phone FROM customers WHERE phone IS NOT NULL AND phone <> '';

ALTER TABLE tickets ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tickets_reference ON tickets (tenant_id, customer_id, reference);

-- Reports read the tenant's agent states and wrap-up ends by kind and time.
CREATE INDEX acd_events_kind_at ON acd_events (tenant_id, kind, at);
