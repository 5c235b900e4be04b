//! Applying a shared object's relocation tables to its image, and storing
//! what IFUNC resolvers return.

use alloc::string::String;
use alloc::vec::Vec;

use crate::call;
use crate::class::Class;
use crate::error::LoadError;
use crate::machine::Machine;
use crate::memory::{Held, Memory, Protection};
use crate::options::ArmAbi;
use crate::reloc::{self, DynamicClass, Fixup, RelocFault};

use super::bind::{Binder, Bound, Deferred, Target};
use super::parse::{out_of_bounds, Layout};
use super::tags::Tags;

/// The `tls_index` records of an object's TLS descriptors: pages after its
/// segments, filled in relocation order.
pub(super) struct Descriptors {
    /// Unbiased address of the next free record.
    pub(super) next: u64,
    /// Unbiased end of the records.
    pub(super) end: u64,
    /// The host's resolver, which reads the record a descriptor points to.
    pub(super) resolver: Option<u64>,
}

/// How many TLS descriptor relocations the object's tables hold: one
/// `tls_index` record each.
pub(super) fn count_tls_descriptors(layout: &Layout<'_>, tags: &Tags, machine: Machine) -> usize {
    let mut count = 0;
    for (table, rela) in [
        (tags.rela, true),
        (tags.rel, false),
        (tags.jmprel, tags.pltrel_is_rela),
    ] {
        let Some(bytes) = table.and_then(|(vaddr, size)| layout.file(vaddr, size)) else {
            continue;
        };
        count += reloc::entries(bytes, rela, machine.class())
            .filter(|e| reloc::dynamic_class(machine, e.r_type()) == DynamicClass::TlsDescriptor)
            .count();
    }
    count
}

/// Applies relocations to the image through per-segment slices.
pub(super) struct Relocator<'l, 'a, M: Memory> {
    pub(super) layout: &'l Layout<'a>,
    /// The object has text relocations: any segment may be written.
    pub(super) textrel: bool,
    /// The object's TLS module id, if it has thread-local storage.
    pub(super) tls_module: Option<u64>,
    /// Where TLS descriptors' `tls_index` records go, if it has any.
    pub(super) descriptors: Option<Descriptors>,
    pub(super) held: &'l mut Held<M>,
    pub(super) machine: Machine,
    /// How Arm objects are read.
    pub(super) arm: ArmAbi,
    pub(super) base: u64,
    /// The segment relocations last went to: its unbiased memory range
    /// and where its bytes are (null before the first relocation).
    pub(super) window: (u64, u64, *mut u8),
    /// The last offset in the window where a machine word fits, or `None`.
    pub(super) word_limit: Option<u64>,
}

impl<M: Memory> Relocator<'_, '_, M> {
    /// The bytes of the segment holding `place`, which a relocation from
    /// `table` writes, and the offset within them.
    pub(super) fn place(
        &mut self,
        place: u64,
        table: &str,
    ) -> Result<(&mut [u8], usize), LoadError> {
        let (lo, hi, _) = self.window;
        if !(lo <= place && place < hi) {
            let s = self.layout.target(place, self.textrel, table)?;
            let bytes = self
                .held
                .bytes_mut((s.vaddr - self.layout.lo) as usize, s.memsz as usize)
                .ok_or_else(|| out_of_bounds(table, place))?;
            self.window = (s.vaddr, s.vaddr + s.memsz, bytes.as_mut_ptr());
            self.word_limit = s.memsz.checked_sub(self.machine.word_size() as u64);
        }
        let (lo, hi, ptr) = self.window;
        // SAFETY: `ptr` is the start of the segment `lo..hi`, which
        // `Held::bytes_mut` lent (checked committed and read-write) when
        // the window was set; the relocator holds the held reservation's
        // exclusive borrow for its whole life, so its protections have not
        // changed since and no other slice of it is alive (slices made
        // from the window never outlive the `&mut self` borrow that made
        // them).
        let bytes = unsafe { core::slice::from_raw_parts_mut(ptr, (hi - lo) as usize) };
        Ok((bytes, (place - lo) as usize))
    }

    pub(super) fn relr(&mut self, vaddr: u64, size: u64) -> Result<(), LoadError> {
        let table = self.layout.file(vaddr, size).ok_or(LoadError::malformed(
            "DT_RELR outside the loaded file data",
            vaddr,
        ))?;
        // An address entry relocates one word and sets where the next
        // bitmap starts; a bitmap entry (low bit set) relocates the words
        // its other bits select (63 on ELF64, 31 on ELF32).
        let class = self.machine.class();
        let word = class.word() as u64;
        let mut next = 0u64;
        for entry in class.words(table) {
            if entry & 1 == 0 {
                self.relative_in_place(entry, ".relr.dyn")?;
                next = entry.wrapping_add(word);
            } else {
                let mut bits = entry >> 1;
                let mut at = next;
                while bits != 0 {
                    if bits & 1 != 0 {
                        self.relative_in_place(at, ".relr.dyn")?;
                    }
                    bits >>= 1;
                    at = at.wrapping_add(word);
                }
                next = next.wrapping_add((u64::from(class.bits()) - 1) * word);
            }
        }
        Ok(())
    }

    /// `*place += B` for a RELR entry.
    pub(super) fn relative_in_place(
        &mut self,
        place: u64,
        table: &'static str,
    ) -> Result<(), LoadError> {
        let base = self.base;
        let class = self.machine.class();
        let (bytes, off) = self.place(place, table)?;
        let value = class
            .word_at(bytes, off)
            .ok_or_else(|| out_of_bounds(table, place))?;
        class.put_word(bytes, off, class.wrap(value.wrapping_add(base)));
        Ok(())
    }

    pub(super) fn table(
        &mut self,
        vaddr: u64,
        size: u64,
        rela: bool,
        name: &'static str,
        binder: &mut Binder<'_, '_>,
        deferred: &mut Vec<Deferred>,
    ) -> Result<(), LoadError> {
        let table = self.layout.file(vaddr, size).ok_or(LoadError::malformed(
            "relocation table outside the loaded file data",
            vaddr,
        ))?;
        // Classes of the last type seen: tables come in long runs of one.
        let mut last = (u32::MAX, DynamicClass::Unknown);
        let mut word = None;
        if rela {
            // The window in locals, so the loop does not reload it after
            // each store (which the compiler cannot tell apart from `self`);
            // taken again after each relocation of the general path, which
            // may move it.
            let base = self.base;
            let class = self.machine.class();
            let mut window = (self.window.0, self.window.2, self.word_limit);
            for e in reloc::entries(table, true, class) {
                let (place, addend, r_type) = (e.offset, e.addend.unwrap_or(0) as u64, e.r_type());
                if r_type != last.0 {
                    last = (r_type, reloc::dynamic_class(self.machine, r_type));
                    word = reloc::symbol_word(self.machine, r_type);
                }
                // B + A, or the address of a symbol already bound (S, or
                // S + A) into a machine word: the bulk of most tables, kept
                // on a short path. Anything else (a symbol's first use, an
                // IFUNC, a place outside the window, an address too wide
                // for the class) takes the general one.
                let value = match (last.1, word) {
                    (DynamicClass::Relative, _) => Some(class.wrap(base.wrapping_add(addend))),
                    (_, Some(adds)) => binder
                        .bound_address(e.sym() as usize)
                        .map(|s| if adds { s.wrapping_add(addend) } else { s })
                        .filter(|&v| class.wrap(v) == v),
                    _ => None,
                };
                if let Some(value) = value {
                    let (lo, ptr, limit) = window;
                    let offset = place.wrapping_sub(lo);
                    if limit.is_some_and(|limit| offset <= limit) {
                        // SAFETY: `ptr` is the start of the window's
                        // segment, lent read-write by `Held::bytes_mut` when
                        // `place` set it, and `limit` its size less a word,
                        // so `offset..offset+word` lies in it; as in
                        // `place`, the relocator's exclusive borrow of the
                        // held reservation keeps that so, and no slice of
                        // it is alive.
                        unsafe {
                            let at = ptr.add(offset as usize);
                            match class {
                                Class::Elf64 => {
                                    at.cast::<[u8; 8]>().write_unaligned(value.to_le_bytes());
                                }
                                Class::Elf32 => at
                                    .cast::<[u8; 4]>()
                                    .write_unaligned((value as u32).to_le_bytes()),
                            }
                        }
                        continue;
                    }
                }
                self.one(
                    place,
                    r_type,
                    e.sym() as usize,
                    e.addend,
                    name,
                    binder,
                    deferred,
                )?;
                window = (self.window.0, self.window.2, self.word_limit);
            }
        } else {
            for e in reloc::entries(table, false, self.machine.class()) {
                let (place, sym, r_type) = (e.offset, e.sym() as usize, e.r_type());
                if r_type != last.0 {
                    last = (r_type, reloc::dynamic_class(self.machine, r_type));
                }
                // B plus the word in place: the bulk of REL tables.
                if last.1 == DynamicClass::Relative {
                    self.relative_in_place(place, name)?;
                    continue;
                }
                self.one(place, r_type, sym, None, name, binder, deferred)?;
            }
        }
        Ok(())
    }

    /// A TLS descriptor (`TLSDESC`, a two-word GOT pair): its `tls_index`
    /// record (module id, offset, a machine word each) goes in the next
    /// free slot after the segments, and the pair becomes (host resolver,
    /// address of the record), or (address of the record, host resolver)
    /// on 32-bit Arm, whose descriptors put the argument first. A `REL`
    /// descriptor (Arm) without a symbol holds its addend in that first
    /// word; a named one holds none (GNU ld leaves a lazy-binding value
    /// there).
    #[allow(clippy::too_many_arguments)]
    fn descriptor(
        &mut self,
        place: u64,
        r_type: u32,
        sym: usize,
        addend: Option<i64>,
        name: &'static str,
        binder: &Binder<'_, '_>,
    ) -> Result<(), LoadError> {
        const NO_RESOLVER: LoadError = LoadError::ThreadLocalStorage {
            what: "TLS descriptors (TLSDESC), which the host does not resolve: build with \
                   -mtls-dialect=trad (aarch64), -mtls-dialect=gnu (x86_64, 32-bit Arm)",
        };
        let module = self.tls_module.ok_or(LoadError::ThreadLocalStorage {
            what: "a TLS relocation in an object without PT_TLS",
        })?;
        let descriptors = self.descriptors.as_mut().ok_or(NO_RESOLVER)?;
        let resolver = descriptors.resolver.ok_or(NO_RESOLVER)?;
        let class = self.machine.class();
        let word = class.word();
        let record = descriptors.next;
        if record + 2 * word as u64 > descriptors.end {
            return Err(LoadError::malformed("TLS descriptor tables changed", place));
        }
        descriptors.next += 2 * word as u64;
        let layout = reloc::descriptor_layout(self.machine);
        let addend = match addend {
            Some(addend) => addend,
            None if !layout.rel_addend => {
                return Err(LoadError::ThreadLocalStorage {
                    what: "a TLS descriptor in a REL table",
                })
            }
            None if sym != 0 => 0,
            None => {
                let machine = self.machine;
                let (bytes, at) = self.place(place, name)?;
                reloc::implicit_addend(machine, r_type, bytes, at)
                    .map_err(|_| out_of_bounds(name, place))?
            }
        };
        let offset = binder
            .tls_offset(sym)?
            .wrapping_add(addend as u64)
            .wrapping_sub(reloc::tls_dtv_offset(self.machine));
        let slot = self
            .held
            .bytes_mut((record - self.layout.lo) as usize, 2 * word)
            .ok_or_else(|| out_of_bounds(name, place))?;
        class.put_word(slot, 0, module);
        class.put_word(slot, word, class.wrap(offset));
        let argument = self.base.wrapping_add(record);
        let pair = if layout.argument_first {
            [argument, resolver]
        } else {
            [resolver, argument]
        };
        let (bytes, at) = self.place(place, name)?;
        if at.checked_add(2 * word).is_none_or(|end| end > bytes.len()) {
            return Err(out_of_bounds(name, place));
        }
        if !(class.put_word(bytes, at, pair[0]) && class.put_word(bytes, at + word, pair[1])) {
            return Err(LoadError::SymbolBeyondClass {
                name: String::from("TLS descriptor resolver"),
                address: resolver,
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn one(
        &mut self,
        place: u64,
        r_type: u32,
        sym: usize,
        addend: Option<i64>,
        name: &'static str,
        binder: &mut Binder<'_, '_>,
        deferred: &mut Vec<Deferred>,
    ) -> Result<(), LoadError> {
        let machine = self.machine;
        let class = reloc::dynamic_class(machine, r_type);
        let unsupported = || LoadError::UnsupportedRelocation {
            machine,
            r_type,
            section: String::from(name),
            offset: place,
        };
        match class {
            DynamicClass::None => return Ok(()),
            DynamicClass::TlsStatic => {
                return Err(LoadError::ThreadLocalStorage {
                    what: "the initial-exec model (a TPOFF relocation), which only objects \
                           loaded with the program can use: build with -fPIC and without \
                           -ftls-model=initial-exec",
                })
            }
            DynamicClass::TlsDescriptor => {
                return self.descriptor(place, r_type, sym, addend, name, binder);
            }
            DynamicClass::Tls => {
                return Err(LoadError::ThreadLocalStorage {
                    what: "a static-link TLS relocation",
                })
            }
            DynamicClass::Copy => {
                return Err(LoadError::Unsupported {
                    what: "COPY relocations (only valid in executables)",
                })
            }
            DynamicClass::Unknown => return Err(unsupported()),
            DynamicClass::Relative
            | DynamicClass::IRelative
            | DynamicClass::Symbolic
            | DynamicClass::JumpSlot
            | DynamicClass::TlsModule
            | DynamicClass::TlsOffset => {}
        }
        let base = self.base;
        let tls_module = self.tls_module;
        let arm = self.arm;
        let (bytes, offset) = self.place(place, name)?;
        let addend = match addend {
            Some(a) => a,
            None => {
                reloc::implicit_addend(machine, r_type, bytes, offset).map_err(|_| unsupported())?
            }
        };
        let (symbol, size) = match class {
            DynamicClass::Relative => (0, 0),
            DynamicClass::TlsModule | DynamicClass::TlsOffset => {
                let module = tls_module.ok_or(LoadError::ThreadLocalStorage {
                    what: "a TLS relocation in an object without PT_TLS",
                })?;
                let value = if class == DynamicClass::TlsModule {
                    module
                } else {
                    binder
                        .tls_offset(sym)?
                        .wrapping_add(addend as u64)
                        .wrapping_sub(reloc::tls_dtv_offset(machine))
                };
                // Offsets wrap as the machine's words do; a module id
                // must fit as it is.
                let elf_class = machine.class();
                let value = if class == DynamicClass::TlsOffset {
                    elf_class.wrap(value)
                } else {
                    value
                };
                if !elf_class.put_word(bytes, offset, value) {
                    return Err(out_of_bounds(name, place));
                }
                return Ok(());
            }
            DynamicClass::IRelative => {
                deferred.push(Deferred {
                    place,
                    r_type,
                    target: Target::Resolver(base.wrapping_add(addend as u64)),
                    addend: 0,
                    table: name,
                });
                return Ok(());
            }
            _ if sym == 0 => (0, 0),
            _ => match binder.bind(sym, class == DynamicClass::JumpSlot)? {
                (Bound::Address(a), size) => {
                    binder.note_lazy_slot(sym, base.wrapping_add(place));
                    (a, size)
                }
                (Bound::OwnIfunc(resolver), _) => {
                    deferred.push(Deferred {
                        place,
                        r_type,
                        target: Target::Resolver(resolver),
                        addend,
                        table: name,
                    });
                    return Ok(());
                }
                (Bound::Waiting(w), _) => {
                    deferred.push(Deferred {
                        place,
                        r_type,
                        target: Target::Waiting(w),
                        addend,
                        table: name,
                    });
                    return Ok(());
                }
                (Bound::Unknown | Bound::Unresolved, _) => {
                    unreachable!("binding gives an address, an IFUNC or an error")
                }
            },
        };
        let fix = Fixup {
            r_type,
            place: base.wrapping_add(place),
            symbol,
            size,
            addend,
            base,
            ..Fixup::default()
        };
        reloc::apply(machine, arm, &fix, bytes, offset).map_err(|f| match f {
            // Dynamic relocations are never paired, never need relaxation
            // and are never branches.
            RelocFault::Unsupported
            | RelocFault::Unpaired
            | RelocFault::NeedsRelaxation
            | RelocFault::Interworking => unsupported(),
            RelocFault::Overflow => LoadError::RelocationOverflow {
                r_type,
                symbol: binder.describe(sym),
                offset: place,
            },
            RelocFault::OutOfBounds => out_of_bounds(name, place),
        })
    }
}

/// Runs the object's own IFUNC resolvers (code is executable by now) and
/// stores what they return; every target must be in writable memory.
pub(super) fn run_ifunc_resolvers<M: Memory>(
    layout: &Layout<'_>,
    textrel: bool,
    ranges: &[(u64, u64, Protection)],
    held: &mut Held<M>,
    (machine, arm, caps): (Machine, ArmAbi, crate::HwCaps),
    base: u64,
    deferred: &[Deferred],
) -> Result<(), LoadError> {
    if Machine::host() != Some(machine) {
        return Err(LoadError::Unsupported {
            what: "IFUNC symbols in objects for another machine",
        });
    }
    for d in deferred {
        let Target::Resolver(resolver) = d.target else {
            continue;
        };
        if !writable(ranges, d.place, machine.word_size()) {
            return Err(LoadError::Unsupported {
                what: "IFUNC relocation in read-only memory",
            });
        }
        // Only code the object itself brought may be called: an address
        // from a corrupt table would otherwise send the loader anywhere.
        let code = resolver.wrapping_sub(base);
        let in_code = layout.segments.iter().any(|s| {
            s.prot == Protection::ReadExecute && s.vaddr <= code && code < s.vaddr + s.filesz
        });
        if !in_code {
            return Err(LoadError::CodeOutsideObject {
                what: String::from("IFUNC resolver"),
                address: resolver,
            });
        }
        // SAFETY: the resolver address lies in the file-backed part of one of
        // this image's executable segments, which is relocated, executable
        // and of the host machine (all checked above).
        let value = unsafe { call::ifunc_resolver(resolver, caps) };
        store_resolved(layout, textrel, held, (machine, arm), base, d, value)?;
    }
    Ok(())
}

/// Whether the `word` bytes at unbiased `place` lie in one read-write range.
pub(super) fn writable(ranges: &[(u64, u64, Protection)], place: u64, word: usize) -> bool {
    ranges.iter().any(|&(a, b, p)| {
        p == Protection::ReadWrite
            && a <= place
            && place.checked_add(word as u64).is_some_and(|end| end <= b)
    })
}

/// Applies the deferred relocation `d` with `value`, what its IFUNC
/// resolver returned; the place must be writable (checked by the caller).
pub(super) fn store_resolved<M: Memory>(
    layout: &Layout<'_>,
    textrel: bool,
    held: &mut Held<M>,
    (machine, arm): (Machine, ArmAbi),
    base: u64,
    d: &Deferred,
    value: u64,
) -> Result<(), LoadError> {
    let s = layout.target(d.place, textrel, d.table)?;
    let bytes = held
        .bytes_mut((s.vaddr - layout.lo) as usize, s.memsz as usize)
        .ok_or_else(|| out_of_bounds(d.table, d.place))?;
    let fix = Fixup {
        r_type: d.r_type,
        place: base.wrapping_add(d.place),
        symbol: value,
        addend: d.addend,
        base,
        ..Fixup::default()
    };
    let offset = (d.place - s.vaddr) as usize;
    let result = if reloc::dynamic_class(machine, d.r_type) == DynamicClass::IRelative {
        machine
            .class()
            .put_word(bytes, offset, value)
            .then_some(())
            .ok_or(RelocFault::OutOfBounds)
    } else {
        reloc::apply(machine, arm, &fix, bytes, offset)
    };
    result.map_err(|_| out_of_bounds(d.table, d.place))
}
