"""Photos with a check-in: `images` decodes an upload and re-encodes it clean (or refuses it);
`photos` stores them within the limits and reads them back for the patient and their clinic."""
