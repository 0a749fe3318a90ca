/**
 * The {@code kvtier} command line: {@link io.kvtier.tools.Main} dispatches to subcommands. Today
 * there is {@code demo}, a small engine loop over the DRAM tier that shows what the cache reuses;
 * the trace {@code replay} tool and the trace generator arrive here later (DESIGN §7).
 *
 * <p>Subcommands write to the streams they are given and return an exit code instead of calling
 * {@link java.lang.System#exit}, so tests run them in-process.
 */
package io.kvtier.tools;
