#include "textflag.h"

// func clone3Exec(args *cloneArgs, size uintptr, plan *execPlan) (pid uintptr, errno uintptr)
//
// The child shares the parent's memory and, until it execs, its stack
// (CLONE_VM|CLONE_VFORK; the parent sleeps meanwhile). It never returns
// into Go: it only makes system calls, with the plan's addresses kept in
// R12, and records a failing step's errno in the plan before exiting.
TEXT ·clone3Exec(SB),NOSPLIT|NOFRAME,$0-40
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	plan+16(FP), R12
	MOVQ	$435, AX // SYS_clone3
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	started
	NEGQ	AX
	MOVQ	$0, pid+24(FP)
	MOVQ	AX, errno+32(FP)
	RET

started:
	MOVQ	AX, pid+24(FP)
	MOVQ	$0, errno+32(FP)
	RET

child:
	// dup3(plan.fds[i], i, 0) for stdin, stdout and stderr: the copies
	// lose close-on-exec, the originals keep it.
	MOVQ	24(R12), DI
	MOVQ	$0, SI
	MOVQ	$0, DX
	MOVQ	$292, AX // SYS_dup3
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JCC	failed
	MOVQ	32(R12), DI
	MOVQ	$1, SI
	MOVQ	$0, DX
	MOVQ	$292, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JCC	failed
	MOVQ	40(R12), DI
	MOVQ	$2, SI
	MOVQ	$0, DX
	MOVQ	$292, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JCC	failed
	// execve(plan.path, plan.argv, plan.envv) returns only on failure.
	MOVQ	0(R12), DI
	MOVQ	8(R12), SI
	MOVQ	16(R12), DX
	MOVQ	$59, AX // SYS_execve
	SYSCALL

failed:
	NEGQ	AX
	MOVQ	AX, 48(R12) // plan.errno

exit:
	MOVQ	$127, DI
	MOVQ	$231, AX // SYS_exit_group
	SYSCALL
	JMP	exit
