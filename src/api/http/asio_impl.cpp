// The compiled parts of Asio, Asio's SSL and Beast, built once for the whole
// program: the project defines BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION, which cut rebuilds of Beast-heavy files
// (see DEPENDENCIES.md, pitfall 5).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
