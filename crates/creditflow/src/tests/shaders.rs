//! Every shader validates with naga, and the WGSL and Rust sides agree: struct sizes and
//! member offsets, shared constants, `@workgroup_size`, and each kernel's bindings (index,
//! address space, access). Needs no GPU.

use std::mem::{offset_of, size_of};

use crate::csr::{NO_AGENT, RecordMeta};
use crate::kernels::types::{
    AGGREGATE_MAX, AGGREGATE_MEAN, AGGREGATE_MIN, BoundedCase, CHAT_MAX_MESSAGES, CONTROL_NONE,
    CONTROL_OWN, CONTROL_SHARED, Config, KatCase, LINK_LINEAR, LINK_LOGISTIC, LINK_SATURATING,
    LOCAL_STRIDE, LOCAL_WORDS, MobiusGame, Moments, STATUS_DRAW, STATUS_REDUCE, STATUS_SAMPLE,
    Slice, SurrogateGame, TableGame, WORKGROUP_SIZE,
};
use crate::kernels::{Access, Binding, KERNELS, PHILOX_WGSL, TYPES_WGSL, Twin};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, Expression, Literal, Module, StorageAccess, TypeInner};

fn parse(name: &str, src: &str) -> Module {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name} does not parse:\n{}", e.emit_to_string(src)));
    // SUBGROUP: sample_chat_subgroup's operations (the GPU builds it only where the
    // adapter has the feature).
    Validator::new(ValidationFlags::all(), Capabilities::SUBGROUP)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name} does not validate:\n{}", e.emit_to_string(src)));
    module
}

#[test]
fn every_kernel_and_shared_file_validates() {
    parse("shared/types.wgsl", TYPES_WGSL);
    parse("shared/philox.wgsl", PHILOX_WGSL);
    for k in KERNELS {
        let m = parse(k.name, &k.module_source());
        assert_eq!(m.entry_points.len(), 1, "{}: one entry point", k.name);
        assert_eq!(m.entry_points[0].name, "main", "{}", k.name);
    }
}

#[test]
fn workgroup_sizes_match_the_rust_side() {
    for k in KERNELS {
        let m = parse(k.name, &k.module_source());
        if k.name == "sample_chat_subgroup" {
            // One subgroup: its size is set when the pipeline is built (SUBGROUP_WIDTH).
            let o = m.entry_points[0].workgroup_size_overrides;
            assert!(
                o.is_some_and(|o| o[0].is_some()),
                "{}: @workgroup_size(SUBGROUP_WIDTH)",
                k.name
            );
            continue;
        }
        assert_eq!(
            m.entry_points[0].workgroup_size,
            [WORKGROUP_SIZE, 1, 1],
            "{}: @workgroup_size",
            k.name
        );
    }
}

/// Every binding name a kernel declares.
const KNOWN_NAMES: &[&str] = &[
    "cases",
    "blocks",
    "counts",
    "draws",
    "config",
    "slices",
    "games",
    "words",
    "perms",
    "scratch",
    "marginals",
    "moments",
    "values",
    "status",
];

#[test]
fn bindings_match_the_table_by_index_name_and_access() {
    for k in KERNELS {
        let m = parse(k.name, &k.module_source());
        let mut found: Vec<(u32, Binding)> = m
            .global_variables
            .iter()
            .filter_map(|(_, g)| {
                let b = g.binding.as_ref()?;
                assert_eq!(b.group, 0, "{}: {:?} is not in group 0", k.name, g.name);
                let access = match g.space {
                    AddressSpace::Uniform => Access::Uniform,
                    AddressSpace::Storage { access } if access.contains(StorageAccess::STORE) => {
                        Access::ReadWrite
                    }
                    AddressSpace::Storage { .. } => Access::ReadOnly,
                    other => panic!("{}: unexpected address space {other:?}", k.name),
                };
                let name = g.name.clone().expect("a named binding");
                let name = KNOWN_NAMES
                    .iter()
                    .find(|n| **n == name)
                    .unwrap_or_else(|| panic!("{}: binding {name} is not a known name", k.name));
                Some((b.binding, (*name, access)))
            })
            .collect();
        found.sort_by_key(|x| x.0);
        let want: Vec<(u32, Binding)> = k
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u32, *b))
            .collect();
        assert_eq!(found, want, "{}: bindings", k.name);
    }
}

/// Size and (name, offset) of each member of the WGSL struct `name`.
fn wgsl_layout(m: &Module, name: &str) -> (u32, Vec<(String, u32)>) {
    for (_, ty) in m.types.iter() {
        if ty.name.as_deref() == Some(name)
            && let TypeInner::Struct { members, span } = &ty.inner
        {
            return (
                *span,
                members
                    .iter()
                    .map(|mm| (mm.name.clone().unwrap_or_default(), mm.offset))
                    .collect(),
            );
        }
    }
    panic!("struct {name} is not in types.wgsl");
}

macro_rules! rust_layout {
    ($t:ty { $($f:ident),* $(,)? }) => {
        (
            size_of::<$t>() as u32,
            vec![$((stringify!($f).to_string(), offset_of!($t, $f) as u32)),*],
        )
    };
}

#[test]
fn shared_structs_have_the_same_layout_on_both_sides() {
    let m = parse("shared/types.wgsl", TYPES_WGSL);
    let cases = [
        (
            "Config",
            rust_layout!(Config {
                seed_lo,
                seed_hi,
                slice_count,
                pair_threads,
                row_threads,
                aggregate,
                link,
                alpha,
                link_a,
                link_b,
                canary,
                walk
            }),
        ),
        (
            "Slice",
            rust_layout!(Slice {
                key_lo,
                tag,
                players,
                unions,
                owen,
                pair_first,
                pairs,
                thread_first,
                row_first,
                union_offset,
                perm_offset,
                scratch_offset,
                scratch_stride,
                game,
                key_hi,
                beta,
                control,
                _pad1,
                _pad2,
                _pad3
            }),
        ),
        (
            "SurrogateGame",
            rust_layout!(SurrogateGame {
                messages,
                groups,
                parent_offsets,
                parents,
                owners,
                group_of,
                scores,
                member_offsets,
                members,
                earlier,
                _pad1,
                _pad2
            }),
        ),
        (
            "MobiusGame",
            rust_layout!(MobiusGame {
                terms,
                coefficients,
                term_offsets,
                term_members
            }),
        ),
        (
            "TableGame",
            rust_layout!(TableGame {
                values,
                _pad0,
                _pad1,
                _pad2
            }),
        ),
        (
            "Moments",
            rust_layout!(Moments {
                count,
                mean,
                m2,
                _pad
            }),
        ),
        (
            "KatCase",
            rust_layout!(KatCase {
                ctr0,
                ctr1,
                ctr2,
                ctr3,
                key0,
                key1,
                _pad0,
                _pad1
            }),
        ),
        (
            "BoundedCase",
            rust_layout!(BoundedCase {
                seed_lo,
                seed_hi,
                key_lo,
                key_hi,
                sample,
                tag,
                n,
                count,
                out_offset,
                _pad0,
                _pad1,
                _pad2
            }),
        ),
        (
            "RecordMeta",
            rust_layout!(RecordMeta {
                message_offset,
                message_count,
                agent_count,
                player_count,
                group_offset,
                group_count,
                key_lo,
                key_hi
            }),
        ),
    ];
    for (name, rust) in cases {
        assert_eq!(
            wgsl_layout(&m, name),
            rust,
            "{name}: (size, [(member, offset)]) WGSL vs Rust"
        );
        assert_eq!(rust.0 % 16, 0, "{name}: pad shared structs to 16 bytes");
    }
}

#[test]
fn shared_constants_match_the_rust_side() {
    let m = parse("shared/types.wgsl", TYPES_WGSL);
    let value = |name: &str| -> u32 {
        let (_, c) = m
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("const {name} is not in types.wgsl"));
        match m.global_expressions[c.init] {
            Expression::Literal(Literal::U32(v)) => v,
            ref e => panic!("const {name} is {e:?}, not a u32 literal"),
        }
    };
    assert_eq!(value("WORKGROUP_SIZE"), WORKGROUP_SIZE);
    assert_eq!(value("LOCAL_STRIDE"), LOCAL_STRIDE);
    assert_eq!(value("LOCAL_WORDS"), LOCAL_WORDS);
    assert_eq!(value("CHAT_MAX_MESSAGES"), CHAT_MAX_MESSAGES);
    assert_eq!(value("NO_AGENT"), NO_AGENT);
    assert_eq!(value("AGGREGATE_MEAN"), AGGREGATE_MEAN);
    assert_eq!(value("AGGREGATE_MIN"), AGGREGATE_MIN);
    assert_eq!(value("AGGREGATE_MAX"), AGGREGATE_MAX);
    assert_eq!(value("LINK_LINEAR"), LINK_LINEAR);
    assert_eq!(value("LINK_LOGISTIC"), LINK_LOGISTIC);
    assert_eq!(value("LINK_SATURATING"), LINK_SATURATING);
    assert_eq!(value("CONTROL_NONE"), CONTROL_NONE);
    assert_eq!(value("CONTROL_SHARED"), CONTROL_SHARED);
    assert_eq!(value("CONTROL_OWN"), CONTROL_OWN);
    assert_eq!(value("STATUS_DRAW"), STATUS_DRAW);
    assert_eq!(value("STATUS_SAMPLE"), STATUS_SAMPLE);
    assert_eq!(value("STATUS_REDUCE"), STATUS_REDUCE);
}

#[test]
fn every_shader_file_is_used_by_a_kernel() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                KERNELS.iter().any(|k| k.name == stem),
                "{stem}.wgsl is not in the kernel table"
            );
        }
    }
}

/// Each kernel's twin status holds: a present twin is `src/kernels/<name>.rs` defining
/// `pub fn <name>`; a shared twin or an oracle names a kernel whose twin is present; no
/// twin file exists for a kernel that says it has none of its own.
#[test]
fn the_twin_status_of_every_kernel_holds() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kernels");
    let present = |name: &str| {
        KERNELS
            .iter()
            .any(|k| k.name == name && k.twin == Twin::Present)
    };
    for k in KERNELS {
        let file = src.join(format!("{}.rs", k.name));
        match k.twin {
            Twin::Present => {
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{}: no twin {}: {e}", k.name, file.display()));
                assert!(
                    text.contains(&format!("pub fn {}(", k.name)),
                    "{} does not define `pub fn {}`",
                    file.display(),
                    k.name
                );
            }
            Twin::Same(other) | Twin::Oracle(other, _) => {
                assert!(present(other), "{}: {other} has no twin of its own", k.name);
                assert!(
                    !file.exists(),
                    "{}: {} exists but the table says the twin is {other}'s",
                    k.name,
                    file.display()
                );
            }
        }
    }
}
