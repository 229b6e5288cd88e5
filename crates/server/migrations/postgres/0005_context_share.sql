-- Cookies and form fields a tenant lets the widget share ([context] in the
-- tenant file, a JSON document), and the values a contact's visitor shared:
-- shown in the screen pop and returned by the caller-id lookup.
ALTER TABLE tenants ADD COLUMN share TEXT NOT NULL DEFAULT '{}';
-- JSON {"cookies": {name: value}, "fields": {name: value}}.
ALTER TABLE contacts ADD COLUMN shared TEXT NOT NULL DEFAULT '{}';
