//! `elf_loader` (crates.io) as a benchmark column: one link context whose
//! host boundary is glibc's `libc.so.6` (imported once with `host::open`,
//! outside any timing), a linker with eager binding (its default without a
//! lazy binder) and a search-path resolver that honours `DT_RUNPATH`'s
//! `$ORIGIN`. Each cycle loads the library with its dependency, looks up the
//! sample exports and releases the load group.

use std::ffi::c_void;
use std::hint::black_box;
use std::time::Duration;

use crate::clock::Stopwatch;

use elf_loader::arch::NativeArch;
use elf_loader::image::ModuleHandle;
use elf_loader::input::PathBuf;
use elf_loader::linker::{
    GraphModule, LdCache, ModuleId, ModuleLease, SearchConfig, SearchPathResolver,
};
use elf_loader::tls::DefaultTlsResolver;
use elf_loader::{host, AddressSpaceId, Domain, LinkContext, Linker};

use crate::loaders::{Loader, Prepared};

type Context = LinkContext<(), NativeArch, DefaultTlsResolver>;

/// The `elf_loader` column.
pub struct ElfLoader {
    context: Context,
    resolver: SearchPathResolver,
    /// Keeps the imported libc in the context.
    _host: Box<[ModuleLease]>,
}

impl std::fmt::Debug for ElfLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ElfLoader")
    }
}

impl ElfLoader {
    /// Sets up the context with glibc's libc as the host scope.
    pub fn new() -> Result<ElfLoader, String> {
        let cache = LdCache::load_system().map_err(|e| e.to_string())?;
        let libc_path = cache
            .candidates("libc.so.6")
            .next()
            .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned())
            .ok_or("libc.so.6 not in the ld.so cache")?;
        let domain = Domain::native(AddressSpaceId::PROCESS)
            .with_tls(DefaultTlsResolver::new())
            .map_err(|e| e.to_string())?;
        // SAFETY: libc.so.6 is already loaded by glibc in this process and is
        // not modified while imported.
        let libc: ModuleHandle = unsafe { host::open(&domain, libc_path.as_str(), "libc.so.6") }
            .map_err(|e| e.to_string())?;
        let mut context = LinkContext::new(domain);
        let host = context
            .insert_batch([GraphModule::new(String::from("libc.so.6"), libc)])
            .map_err(|e| e.to_string())?;
        let resolver = SearchPathResolver::with_config(SearchConfig::new().cache(cache));
        Ok(ElfLoader {
            context,
            resolver,
            _host: host,
        })
    }

    fn with_open<R>(
        &mut self,
        lib: &Prepared,
        f: impl FnOnce(&Context, ModuleId) -> Result<R, String>,
    ) -> Result<R, String> {
        let linker = Linker::new().with_resolver(self.resolver.clone());
        let loaded = linker
            .run()
            .load(&mut self.context, PathBuf::from(lib.path()))
            .map_err(|e| e.to_string())?;
        let r = f(&self.context, loaded.root());
        drop(
            loaded
                .release(&mut self.context)
                .map_err(|e| e.to_string())?,
        );
        r
    }
}

fn sym(context: &Context, id: ModuleId, name: &str) -> Result<*mut c_void, String> {
    let module = context.module(id).map_err(|e| e.to_string())?;
    // SAFETY: the address is only passed to `black_box` or, for
    // `bench_touch`, called with its C signature.
    let s = unsafe { module.get::<*mut c_void>(name) }.map_err(|e| e.to_string())?;
    s.map(|s| s.into_raw().cast_mut().cast())
        .ok_or_else(|| format!("{name}: not found"))
}

impl Loader for ElfLoader {
    fn name(&self) -> &'static str {
        "elf_loader"
    }

    fn check(&mut self, lib: &Prepared) -> Result<Option<String>, String> {
        self.with_open(lib, |c, id| match lib.expected {
            Some(_) => sym(c, id, "bench_touch").and_then(|p| crate::loaders::verify(p, lib)),
            None => Ok(()),
        })
        .map(|()| None)
    }

    fn cycle(&mut self, lib: &Prepared, iterations: u32) -> Result<Duration, String> {
        let start = Stopwatch::start();
        for _ in 0..iterations {
            self.with_open(lib, |c, id| {
                for name in &lib.library.sample {
                    black_box(sym(c, id, name)?);
                }
                Ok(())
            })?;
        }
        Ok(start.elapsed())
    }

    fn lookups(&mut self, lib: &Prepared, passes: u32) -> Result<Duration, String> {
        self.with_open(lib, |c, id| {
            let start = Stopwatch::start();
            for _ in 0..passes {
                for name in &lib.library.exports {
                    black_box(sym(c, id, name)?);
                }
            }
            Ok(start.elapsed())
        })
    }
}
