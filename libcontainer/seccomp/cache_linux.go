package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// CompileCached is Compile with the program kept in dir (root-only),
// keyed by a hash of the profile and the
// libseccomp version: engines pass the same profile for every container, and
// compiling a few hundred rules costs libseccomp ~10 ms.
func CompileCached(s *specs.LinuxSeccomp, dir string) ([]byte, error) {
	key, err := cacheKey(s)
	if err != nil {
		return Compile(s)
	}
	path := filepath.Join(dir, key+".bpf")
	if prog, err := os.ReadFile(path); err == nil && len(prog) > 0 && len(prog)%8 == 0 {
		return prog, nil
	}
	prog, err := Compile(s)
	if err != nil {
		return nil, err
	}
	// Best effort: a cache that cannot be written only costs time.
	if err := os.MkdirAll(dir, 0o700); err == nil {
		if tmp, err := os.CreateTemp(dir, ".tmp-*"); err == nil {
			_, werr := tmp.Write(prog)
			cerr := tmp.Close()
			if werr == nil && cerr == nil {
				os.Rename(tmp.Name(), path)
			}
			os.Remove(tmp.Name())
		}
	}
	return prog, nil
}

func cacheKey(s *specs.LinuxSeccomp) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	maj, min, micro := libseccomp.GetLibraryVersion()
	h := sha256.New()
	fmt.Fprintf(h, "rt-seccomp-v1 libseccomp %d.%d.%d\n", maj, min, micro)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}
