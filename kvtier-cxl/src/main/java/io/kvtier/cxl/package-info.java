/**
 * The CXL memory-pool tier. {@link io.kvtier.cxl.CxlTier} makes tier specs in three modes: a path
 * ({@link io.kvtier.cxl.CxlTier#file}: a file on tmpfs, hugetlbfs, a DAX file system or any other,
 * or a device-DAX node), anonymous memory bound to a NUMA node ({@link
 * io.kvtier.cxl.CxlTier#numaNode}), and a pool shared between processes ({@link
 * io.kvtier.cxl.CxlTier#sharedPool}, whose store is a {@link io.kvtier.cxl.SharedPool}).
 *
 * <p>The first two are one store over one mapping ({@code MappedPageStore}), made with the Foreign
 * Function and Memory API: {@code FileChannel.map} for files, and {@code mmap}, {@code mbind} and
 * {@code flock} downcalls to libc ({@code Libc}) for devices and NUMA memory. The shared pool
 * ({@code SharedPoolStore}) coordinates processes through compare-and-set on a header region of the
 * pool file ({@code SharedPoolLayout}) and finds blocks through a Chronicle Map beside it ({@code
 * ChronicleDirectory}); it alone needs Chronicle Map's runtime flags.
 */
package io.kvtier.cxl;
