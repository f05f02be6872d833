package earlyinit

// grow is in grow_amd64.s.
func grow()

// growLarge is in grow_amd64.s.
func growLarge()
