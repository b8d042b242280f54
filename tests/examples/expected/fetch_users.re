Fetched 10 users in 0\.1[0-4]s\\n
