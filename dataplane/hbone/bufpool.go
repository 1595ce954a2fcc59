package hbone

import "sync"

// Buffer size classes shared by stream receive queues and Copy. Frames are at
// most MaxFrameSize (1 MiB by default); larger requests get a plain slice.
var bufClasses = [...]int{4 << 10, 32 << 10, 256 << 10, 1 << 20}

var bufPools [len(bufClasses)]sync.Pool

// getBuf returns a slice of length 0 and capacity >= n from the pools.
func getBuf(n int) []byte {
	for i, size := range bufClasses {
		if n <= size {
			if p, ok := bufPools[i].Get().(*[]byte); ok {
				return (*p)[:0]
			}
			return make([]byte, 0, size)
		}
	}
	return make([]byte, 0, n)
}

// putBuf returns b to its size class; foreign sizes are dropped.
func putBuf(b []byte) {
	c := cap(b)
	for i, size := range bufClasses {
		if c == size {
			b = b[:0]
			bufPools[i].Put(&b)
			return
		}
	}
}
