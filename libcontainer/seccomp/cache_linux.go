package seccomp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// CompileCached is Compile with the program kept in dir (root-only):
// engines pass the same profile for every container, and compiling a few
// hundred rules costs libseccomp ~10 ms.
//
// An entry is named by a (non-cryptographic) hash of the profile and the
// libseccomp version, and holds that whole input before the program: a
// program is used only for the very input it was compiled from, so a hash
// collision, accidental or crafted, costs a recompile, never a wrong filter.
// (A cryptographic hash would do too, but crypto/sha256 links Go's FIPS
// module, whose initialisers every rt command would run.)
func CompileCached(s *specs.LinuxSeccomp, dir string) ([]byte, error) {
	key, err := cacheInput(s)
	if err != nil {
		return Compile(s)
	}
	h := fnv.New128a()
	h.Write(key)
	path := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))+".bpf")
	if prog, ok := readEntry(path, key); ok {
		return prog, nil
	}
	prog, err := Compile(s)
	if err != nil {
		return nil, err
	}
	// Best effort: a cache that cannot be written only costs time.
	if err := os.MkdirAll(dir, 0o700); err == nil {
		if tmp, err := os.CreateTemp(dir, ".tmp-*"); err == nil {
			entry := binary.LittleEndian.AppendUint64(nil, uint64(len(key)))
			entry = append(append(entry, key...), prog...)
			_, werr := tmp.Write(entry)
			cerr := tmp.Close()
			if werr == nil && cerr == nil {
				os.Rename(tmp.Name(), path)
			}
			os.Remove(tmp.Name())
		}
	}
	return prog, nil
}

// cacheInput is what a program is compiled from: the profile and the
// version of libseccomp compiling it.
func cacheInput(s *specs.LinuxSeccomp) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	maj, min, micro := libseccomp.GetLibraryVersion()
	return append(fmt.Appendf(nil, "rt-seccomp-v2 libseccomp %d.%d.%d\n", maj, min, micro), b...), nil
}

// readEntry returns the program of the entry at path if the entry was
// compiled from key: u64 length of the input, the input, the program.
func readEntry(path string, key []byte) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 8 {
		return nil, false
	}
	n := binary.LittleEndian.Uint64(b)
	if n != uint64(len(key)) || uint64(len(b)-8) < n || !bytes.Equal(b[8:8+n], key) {
		return nil, false
	}
	prog := b[8+n:]
	if len(prog) == 0 || len(prog)%8 != 0 {
		return nil, false
	}
	return prog, true
}
