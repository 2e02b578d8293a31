DROP TABLE qes_signatures;
