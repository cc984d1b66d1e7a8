// Generated from errno.h names.
#include "sentry/abi/errno.h"

#include <string>

namespace sbx {

std::string_view ErrnoName(Errno e) {
  switch (e) {
    case Errno::kEPERM: return "EPERM";
    case Errno::kENOENT: return "ENOENT";
    case Errno::kESRCH: return "ESRCH";
    case Errno::kEINTR: return "EINTR";
    case Errno::kEIO: return "EIO";
    case Errno::kENXIO: return "ENXIO";
    case Errno::kE2BIG: return "E2BIG";
    case Errno::kENOEXEC: return "ENOEXEC";
    case Errno::kEBADF: return "EBADF";
    case Errno::kECHILD: return "ECHILD";
    case Errno::kEAGAIN: return "EAGAIN";
    case Errno::kENOMEM: return "ENOMEM";
    case Errno::kEACCES: return "EACCES";
    case Errno::kEFAULT: return "EFAULT";
    case Errno::kENOTBLK: return "ENOTBLK";
    case Errno::kEBUSY: return "EBUSY";
    case Errno::kEEXIST: return "EEXIST";
    case Errno::kEXDEV: return "EXDEV";
    case Errno::kENODEV: return "ENODEV";
    case Errno::kENOTDIR: return "ENOTDIR";
    case Errno::kEISDIR: return "EISDIR";
    case Errno::kEINVAL: return "EINVAL";
    case Errno::kENFILE: return "ENFILE";
    case Errno::kEMFILE: return "EMFILE";
    case Errno::kENOTTY: return "ENOTTY";
    case Errno::kETXTBSY: return "ETXTBSY";
    case Errno::kEFBIG: return "EFBIG";
    case Errno::kENOSPC: return "ENOSPC";
    case Errno::kESPIPE: return "ESPIPE";
    case Errno::kEROFS: return "EROFS";
    case Errno::kEMLINK: return "EMLINK";
    case Errno::kEPIPE: return "EPIPE";
    case Errno::kEDOM: return "EDOM";
    case Errno::kERANGE: return "ERANGE";
    case Errno::kEDEADLK: return "EDEADLK";
    case Errno::kENAMETOOLONG: return "ENAMETOOLONG";
    case Errno::kENOLCK: return "ENOLCK";
    case Errno::kENOSYS: return "ENOSYS";
    case Errno::kENOTEMPTY: return "ENOTEMPTY";
    case Errno::kELOOP: return "ELOOP";
    case Errno::kENOMSG: return "ENOMSG";
    case Errno::kEIDRM: return "EIDRM";
    case Errno::kENOSTR: return "ENOSTR";
    case Errno::kENODATA: return "ENODATA";
    case Errno::kETIME: return "ETIME";
    case Errno::kENOSR: return "ENOSR";
    case Errno::kEREMOTE: return "EREMOTE";
    case Errno::kENOLINK: return "ENOLINK";
    case Errno::kEPROTO: return "EPROTO";
    case Errno::kEBADMSG: return "EBADMSG";
    case Errno::kEOVERFLOW: return "EOVERFLOW";
    case Errno::kEBADFD: return "EBADFD";
    case Errno::kELIBBAD: return "ELIBBAD";
    case Errno::kEILSEQ: return "EILSEQ";
    case Errno::kEUSERS: return "EUSERS";
    case Errno::kENOTSOCK: return "ENOTSOCK";
    case Errno::kEDESTADDRREQ: return "EDESTADDRREQ";
    case Errno::kEMSGSIZE: return "EMSGSIZE";
    case Errno::kEPROTOTYPE: return "EPROTOTYPE";
    case Errno::kENOPROTOOPT: return "ENOPROTOOPT";
    case Errno::kEPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case Errno::kESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case Errno::kEOPNOTSUPP: return "EOPNOTSUPP";
    case Errno::kEPFNOSUPPORT: return "EPFNOSUPPORT";
    case Errno::kEAFNOSUPPORT: return "EAFNOSUPPORT";
    case Errno::kEADDRINUSE: return "EADDRINUSE";
    case Errno::kEADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case Errno::kENETDOWN: return "ENETDOWN";
    case Errno::kENETUNREACH: return "ENETUNREACH";
    case Errno::kENETRESET: return "ENETRESET";
    case Errno::kECONNABORTED: return "ECONNABORTED";
    case Errno::kECONNRESET: return "ECONNRESET";
    case Errno::kENOBUFS: return "ENOBUFS";
    case Errno::kEISCONN: return "EISCONN";
    case Errno::kENOTCONN: return "ENOTCONN";
    case Errno::kESHUTDOWN: return "ESHUTDOWN";
    case Errno::kETOOMANYREFS: return "ETOOMANYREFS";
    case Errno::kETIMEDOUT: return "ETIMEDOUT";
    case Errno::kECONNREFUSED: return "ECONNREFUSED";
    case Errno::kEHOSTDOWN: return "EHOSTDOWN";
    case Errno::kEHOSTUNREACH: return "EHOSTUNREACH";
    case Errno::kEALREADY: return "EALREADY";
    case Errno::kEINPROGRESS: return "EINPROGRESS";
    case Errno::kESTALE: return "ESTALE";
    case Errno::kEDQUOT: return "EDQUOT";
    case Errno::kECANCELED: return "ECANCELED";
    case Errno::kEOWNERDEAD: return "EOWNERDEAD";
    case Errno::kENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case Errno::kERESTARTSYS: return "ERESTARTSYS";
    case Errno::kERESTARTNOINTR: return "ERESTARTNOINTR";
    case Errno::kERESTARTNOHAND: return "ERESTARTNOHAND";
    case Errno::kERESTART_RESTARTBLOCK: return "ERESTART_RESTARTBLOCK";
    case Errno::kEJUSTRETURN: return "EJUSTRETURN";
  }
  thread_local std::string buf;
  buf = "E" + std::to_string(static_cast<int>(e));
  return buf;
}

}  // namespace sbx
