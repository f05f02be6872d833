#include "textflag.h"
#include "go_asm.h"

// func grow()
// A frame of frameSize bytes that is never written: the prologue's stack
// check grows the stack to fit it. (A Go array on the stack would be
// zeroed, touching every page of it.)
TEXT ·grow(SB), 0, $const_frameSize-0
	RET

// func growLarge(): the same with a frame of largeFrameSize bytes.
TEXT ·growLarge(SB), 0, $const_largeFrameSize-0
	RET
