print("seqcore: command-line program (under construction)")
