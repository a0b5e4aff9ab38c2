"""HTTP plumbing shared by the ConnectWise and Encharge clients: retries, rate limiting, redaction."""
