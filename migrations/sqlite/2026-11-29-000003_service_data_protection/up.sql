-- Each service records its data-protection model (domain::service::DataProtection):
-- 'avv' (Art. 28 DSGVO, the default of every service so far), 'ozg8a' (the operator is
-- responsible under § 8a OZG, no AVV) or 'joint_control' (Art. 26 DSGVO).
ALTER TABLE services ADD COLUMN data_protection TEXT NOT NULL DEFAULT 'avv'
    CHECK (data_protection IN ('avv', 'ozg8a', 'joint_control'));
