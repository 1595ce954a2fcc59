package scenarios

import "embed"

// Library is the scenario library, embedded so a built binary can run it
// without the source tree: LoadFS(Library, LibraryRoot).
//
//go:embed library
var Library embed.FS

// LibraryRoot is the library's directory inside Library.
const LibraryRoot = "library"

// LoadLibrary loads every scenario of the embedded library.
func LoadLibrary() ([]*Resolved, error) { return LoadFS(Library, LibraryRoot) }
