alpha \(exit 0\)\\nbeta \(exit 0\)\\ngamma \(exit 0\)\\n3 commands in 0\.1[0-9]s\\nsorted:\\napple\\nfig\\npear\\n
