"""Business rules and queries. Services receive a session; they never create, commit or close one."""
