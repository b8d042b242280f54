Fetched 10 users in 0\.1[0-9]s\\n
