-- The declaration a signatory confirmed when signing in the registry ("Ich habe den
-- Vertragstext … gelesen und bin für … zeichnungsberechtigt."); empty for signatures
-- recorded by staff or given through the API. Expand only: older instances ignore it.
ALTER TABLE signatures ADD COLUMN declaration TEXT;
