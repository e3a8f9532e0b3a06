package service

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch watches the directory of the configuration file (and of the file
// it links to), because editors and Kubernetes ConfigMaps replace the file
// by a rename or a symbolic link swap, which a watch on the file itself
// would lose, and likewise the directories of the jwks_file key sets. Any
// event there, once the directories have been quiet for the debounce,
// signals changed; reload then reads the file and does nothing if its
// content did not change, and refetchKeys refetches the issuers whose
// jwks_file changed.
func (r *reloader) watch(ctx context.Context, wg *sync.WaitGroup, changed chan<- struct{}) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	for _, d := range fileDirs(r.path) {
		if err := w.Add(d); err != nil {
			w.Close()
			return err
		}
		r.watched = append(r.watched, d)
	}
	r.mu.Lock()
	r.watcher = w
	r.watchKeyFiles()
	r.mu.Unlock()
	wg.Go(func() {
		defer w.Close()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				timer.Reset(r.debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.logger.Warn("watching the configuration file", "error", err)
			case <-timer.C:
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}
	})
	return nil
}

// fileDirs returns the directory of path and, when path is a symbolic
// link, of the file it links to.
func fileDirs(path string) []string {
	dirs := []string{filepath.Dir(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && !slices.Contains(dirs, filepath.Dir(real)) {
		dirs = append(dirs, filepath.Dir(real))
	}
	return dirs
}

// watchKeyFiles adds the directories of the jwks_file key sets in force to
// the watcher, if any. A directory that cannot be watched is logged: its
// keys still change on SIGHUP and on every refresh. The caller holds r.mu.
func (r *reloader) watchKeyFiles() {
	if r.watcher == nil {
		return
	}
	for path := range r.keyFiles {
		for _, d := range fileDirs(path) {
			if slices.Contains(r.watched, d) {
				continue
			}
			if err := r.watcher.Add(d); err != nil {
				r.logger.Warn("not watching a jwks_file; refetch its keys with SIGHUP", "jwks_file", path, "error", err)
				continue
			}
			r.watched = append(r.watched, d)
		}
	}
}
